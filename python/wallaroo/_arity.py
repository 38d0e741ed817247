"""Arity validation for decorated user functions (Wallaroo's fail-fast check)."""

import inspect

from .errors import WallarooParameterError

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY,
               inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _positional_bounds(obj):
    """``(fewest, most)`` positional arguments ``obj`` accepts (``most`` None: ``*args``).

    None for builtins without a signature. Keyword-only parameters without
    defaults can never be filled, so such a function accepts no call: ``(1, 0)``.
    """
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in params if p.kind in _POSITIONAL]
    most = len(positional)
    if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params):
        most = None
    fewest = len([p for p in positional if p.default is inspect.Parameter.empty])
    if any(p.kind == inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty
           for p in params):
        return (1, 0)
    return (fewest, most)


def _accepts(bounds, arity):
    fewest, most = bounds
    return fewest <= arity and (most is None or arity <= most)


def accepts(obj, arity):
    """True when ``obj(*arity args)`` is a valid call (or ``obj`` has no signature to tell)."""
    bounds = _positional_bounds(obj)
    return bounds is None or _accepts(bounds, arity)


def _require_callable(name, obj):
    if not callable(obj):
        raise WallarooParameterError(
            "Expected a callable object but got a {0!r} for {1}".format(obj, name))


def validate_arity(name, obj, arity):
    """Raise WallarooParameterError unless ``obj(*arity args)`` is a valid call.

    As in Wallaroo, the wanted arity must lie between the number of positional
    parameters without defaults and the total number of positional parameters.
    Unlike Wallaroo, ``*args`` lifts the upper bound, and keyword-only
    parameters without defaults are rejected (they can never be filled).
    """
    _require_callable(name, obj)
    bounds = _positional_bounds(obj)
    if bounds is not None and not _accepts(bounds, arity):
        term = "parameter" if arity == 1 else "parameters"
        raise WallarooParameterError(
            "Incompatible function arity, your function {0} must have {1} {2}."
            .format(name, arity, term))


def accepts_value_or_key(obj):
    """True when ``obj`` can be called as ``obj(value)`` or as ``obj(value, key)`` (or has no signature)."""
    bounds = _positional_bounds(obj)
    return bounds is None or _accepts(bounds, 1) or _accepts(bounds, 2)


def validate_decoder_arity(name, obj):
    """A decoder takes ``(value)``, or Roo's ``(value, key)`` (only a Kafka source gives a key)."""
    _require_callable(name, obj)
    if not accepts_value_or_key(obj):
        raise WallarooParameterError(
            "Incompatible function arity, your function {0} must have 1 parameter "
            "(value) or 2 (value, key).".format(name))


def requires_two(obj):
    """True when ``obj`` cannot be called with one positional argument but can with two."""
    bounds = _positional_bounds(obj)
    return bounds is not None and not _accepts(bounds, 1) and _accepts(bounds, 2)


def takes_key(obj):
    """True when a Kafka decoder ``obj`` names a second positional parameter: it gets ``(value, key)``.

    ``decode(value, key=None)`` gets the key; ``decode(value)`` and ``decode(*args)`` do not.
    """
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return False
    return len([p for p in params if p.kind in _POSITIONAL]) >= 2
