"""Decorators that turn user functions into Wallaroo's duck-typed objects.

Each decorator validates the function's arity, generates a class named
``<Base>_<counter>__<funcname>`` (one counter per base class, starting at 1),
puts it in the ``wallaroo`` module globals (so pickle finds it by name) and
returns an instance. The raw user function stays reachable as ``_roo_fn`` so
the runtime can call it with no extra Python frame.
"""

import collections
import re
import struct
import sys

from ._arity import validate_arity, validate_decoder_arity
from .errors import WallarooParameterError
from .wrapped import (Computation, ComputationMulti, KeyExtractor, OctetDecoder,
                      OctetEncoder, PartitionFunction, StateComputation,
                      StateComputationMulti)

_counters = collections.Counter()

def _generate(base, func, members):
    """Create, register and return the class ``<Base>_<n>__<funcname>``."""
    _counters[base.__name__] += 1
    cls_name = "{0}_{1}__{2}".format(base.__name__, _counters[base.__name__],
                                     getattr(func, "__name__", "callable"))
    namespace = dict(members)
    namespace["__module__"] = "wallaroo"
    namespace["__qualname__"] = cls_name
    namespace["__doc__"] = getattr(func, "__doc__", None)
    namespace["_roo_fn"] = staticmethod(func)
    cls = type(cls_name, (base,), namespace)
    setattr(sys.modules["wallaroo"], cls_name, cls)
    return cls


def _require_name(decorator, name):
    if not isinstance(name, str):
        raise WallarooParameterError(
            "@wallaroo.{0} needs a name: write @wallaroo.{0}(\"my name\"), got {1!r}"
            .format(decorator, name))


def _require_state_class(decorator, name, state):
    if state is not None and not callable(state):
        raise WallarooParameterError(
            "@wallaroo.{0}({1!r}, state): state must be a class (called with no "
            "arguments to make each state object), got {2!r}".format(decorator, name, state))


# Methods shared by the generated classes. They read class attributes, so an
# instance carries nothing but its class and pickles by reference.

def _name(self):
    return self._roo_name


def _compute(self, data):
    return self._roo_fn(data)


def _compute_state(self, data, state):
    return self._roo_fn(data, state)


def _initial_state(self):
    return self._roo_state_cls()


def _extract_key_chr(self, data):
    key = self._roo_fn(data)
    if isinstance(key, int):
        return chr(key)
    return key


def _extract_key(self, data):
    return self._roo_fn(data)


def _header_length(self):
    return self._roo_header_length


def _payload_length(self, bs):
    return struct.unpack(self._roo_length_fmt, bs)[0]


def _decode(self, bs):
    return self._roo_fn(bs)


def _encode(self, data):
    return self._roo_fn(data)


def computation(name):
    """``@computation(name)``: ``f(data)``; ``None`` filters, anything else is one output."""
    _require_name("computation", name)

    def wrap(func):
        validate_arity(name, func, 1)
        cls = _generate(Computation, func, {"_roo_name": name, "name": _name,
                                            "compute": _compute})
        return cls()
    return wrap


def computation_multi(name):
    """``@computation_multi(name)``: ``f(data)`` returns a list of outputs or ``None``."""
    _require_name("computation_multi", name)

    def wrap(func):
        validate_arity(name, func, 1)
        cls = _generate(ComputationMulti, func, {"_roo_name": name, "name": _name,
                                                 "compute_multi": _compute})
        return cls()
    return wrap


def _state_members(name, state):
    members = {"_roo_name": name, "_roo_state_cls": state, "name": _name}
    if state is not None:
        members["initial_state"] = _initial_state
    return members


def state_computation(name, state=None):
    """``@state_computation(name, StateClass)`` (G2) or ``(name)`` (G1, state from the builder)."""
    _require_name("state_computation", name)
    _require_state_class("state_computation", name, state)

    def wrap(func):
        validate_arity(name, func, 2)
        members = _state_members(name, state)
        members["compute"] = _compute_state
        return _generate(StateComputation, func, members)()
    return wrap


def state_computation_multi(name, state=None):
    """``@state_computation_multi(name, StateClass)`` (G2) or ``(name)`` (G1)."""
    _require_name("state_computation_multi", name)
    _require_state_class("state_computation_multi", name, state)

    def wrap(func):
        validate_arity(name, func, 2)
        members = _state_members(name, state)
        members["compute_multi"] = _compute_state
        return _generate(StateComputationMulti, func, members)()
    return wrap


def key_extractor(func):
    """``@key_extractor``: ``f(data)`` returns the key (str/bytes; an int becomes ``chr``)."""
    name = getattr(func, "__name__", repr(func))
    validate_arity(name, func, 1)
    cls = _generate(KeyExtractor, func, {"_roo_name": name,
                                         "extract_key": _extract_key_chr})
    return cls()


def partition(func):
    """``@partition`` (G1): ``f(data)`` returns the partition key, used as is."""
    name = getattr(func, "__name__", repr(func))
    validate_arity(name, func, 1)
    cls = _generate(PartitionFunction, func, {"_roo_name": name,
                                              "partition": _extract_key,
                                              "extract_key": _extract_key})
    return cls()


_FORMAT = re.compile(r"^([<>!=@]?)((?:\d*x)*)([bBhHiIlLqQ])((?:\d*x)*)$")


def check_length_format(where, header_length, length_fmt):
    """Validate a frame header spec; return the struct format, normalised.

    ``length_fmt`` must read exactly one integer (pad bytes ``x`` allowed) and be
    ``header_length`` bytes long. The result is explicit: byte order ``>`` or
    ``<``, optional ``<n>x`` leading pad, one of ``bBhHiIqQ``, optional ``<n>x``
    trailing pad; for example ``">I"`` or ``">2xH"``.
    """
    if isinstance(header_length, bool) or not isinstance(header_length, int):
        raise WallarooParameterError(
            "{0}: header_length must be an int, got {1!r}".format(where, header_length))
    if not isinstance(length_fmt, str):
        raise WallarooParameterError(
            "{0}: length_fmt must be a struct format string, got {1!r}".format(where, length_fmt))
    match = _FORMAT.match(length_fmt.replace(" ", ""))
    if match is None:
        raise WallarooParameterError(
            "{0}: length_fmt {1!r} must be one integer struct code (e.g. '>I')"
            .format(where, length_fmt))
    order, lead, code, trail = match.groups()
    order = order or "@"  # struct's default: native byte order and alignment
    total = struct.calcsize(length_fmt)
    if total != header_length:
        raise WallarooParameterError(
            "{0}: length_fmt {1!r} reads {2} bytes but header_length is {3}"
            .format(where, length_fmt, total, header_length))
    through_field = struct.calcsize(order + lead + code)
    size = struct.calcsize(order + code)
    offset, trailing = through_field - size, total - through_field
    code = {1: "b", 2: "h", 4: "i", 8: "q"}[size]
    code = code.upper() if match.group(3).isupper() else code
    if order in "!>":
        order = ">"
    elif order in "@=":
        order = "<" if sys.byteorder == "little" else ">"
    pad = lambda n: "{0}x".format(n) if n > 1 else ("x" if n == 1 else "")
    return order + pad(offset) + code + pad(trailing)


def decoder(header_length=4, length_fmt=">I"):
    """``@decoder(header_length, length_fmt)``: frames are ``header | payload``.

    Wallaroo's code had no defaults (its docs claimed 4 / ``">I"``); Roo uses the
    documented defaults, and checks the format against the header length now
    rather than at the first message. ``f(value)``, or Roo's ``f(value, key)``
    for a Kafka source that passes each message's key (a TCP source has none).
    """
    if callable(header_length):
        raise WallarooParameterError(
            "@wallaroo.decoder needs arguments: write "
            "@wallaroo.decoder(header_length=4, length_fmt=\">I\")")

    def wrap(func):
        name = getattr(func, "__name__", repr(func))
        validate_decoder_arity(name, func)
        check_length_format("decoder {0}".format(name), header_length, length_fmt)
        cls = _generate(OctetDecoder, func, {
            "_roo_name": name, "_roo_header_length": header_length,
            "_roo_length_fmt": length_fmt, "header_length": _header_length,
            "payload_length": _payload_length, "decode": _decode})
        return cls()
    return wrap


def encoder(func):
    """``@encoder``: ``f(data)`` returns the bytes a TCP sink writes verbatim."""
    name = getattr(func, "__name__", repr(func))
    validate_arity(name, func, 1)
    cls = _generate(OctetEncoder, func, {"_roo_name": name, "encode": _encode})
    return cls()
