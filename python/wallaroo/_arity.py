"""Arity validation for decorated user functions (Wallaroo's fail-fast check)."""

import inspect

from .errors import WallarooParameterError

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY,
               inspect.Parameter.POSITIONAL_OR_KEYWORD)


def validate_arity(name, obj, arity):
    """Raise WallarooParameterError unless ``obj(*arity args)`` is a valid call.

    As in Wallaroo, the wanted arity must lie between the number of positional
    parameters without defaults and the total number of positional parameters.
    Unlike Wallaroo, ``*args`` lifts the upper bound, and keyword-only
    parameters without defaults are rejected (they can never be filled).
    """
    if not callable(obj):
        raise WallarooParameterError(
            "Expected a callable object but got a {0!r} for {1}".format(obj, name))
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return  # builtins without a signature: trust the caller
    positional = [p for p in params if p.kind in _POSITIONAL]
    upper = len(positional)
    if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params):
        upper = None
    lower = len([p for p in positional if p.default is inspect.Parameter.empty])
    kw_required = [p for p in params if p.kind == inspect.Parameter.KEYWORD_ONLY
                   and p.default is inspect.Parameter.empty]
    if arity < lower or (upper is not None and arity > upper) or kw_required:
        term = "parameter" if arity == 1 else "parameters"
        raise WallarooParameterError(
            "Incompatible function arity, your function {0} must have {1} {2}."
            .format(name, arity, term))
