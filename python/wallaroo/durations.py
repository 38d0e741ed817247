"""Time units: each helper returns an integer number of nanoseconds."""

import math
import numbers

from .errors import WallarooParameterError

_NS_PER = {
    "nanoseconds": 1,
    "microseconds": 1000,
    "milliseconds": 1000 * 1000,
    "seconds": 1000 * 1000 * 1000,
    "minutes": 60 * 1000 * 1000 * 1000,
    "hours": 60 * 60 * 1000 * 1000 * 1000,
}


def _to_ns(x, factor):
    if isinstance(x, int):
        return x * factor
    if not isinstance(x, numbers.Real) or not math.isfinite(x):
        unit = [name for name, f in _NS_PER.items() if f == factor][0]
        raise WallarooParameterError(
            "wallaroo.{0}(x): x must be a finite number, got {1!r}".format(unit, x))
    return int(round(x * factor))


def nanoseconds(x):
    """``x`` nanoseconds as int nanoseconds."""
    return _to_ns(x, _NS_PER["nanoseconds"])


def microseconds(x):
    """``x`` microseconds as int nanoseconds."""
    return _to_ns(x, _NS_PER["microseconds"])


def milliseconds(x):
    """``x`` milliseconds as int nanoseconds."""
    return _to_ns(x, _NS_PER["milliseconds"])


def seconds(x):
    """``x`` seconds as int nanoseconds."""
    return _to_ns(x, _NS_PER["seconds"])


def minutes(x):
    """``x`` minutes as int nanoseconds."""
    return _to_ns(x, _NS_PER["minutes"])


def hours(x):
    """``x`` hours as int nanoseconds."""
    return _to_ns(x, _NS_PER["hours"])
