"""``Pipeline.with_event_time``: where a source's events get their time and how its watermark moves (Roo's).

docs/windows.md explains event time, watermarks, idleness and the future cap; this module only checks the values
and makes the source entry's ``"event_time"`` (docs/description.md).
"""

from ._arity import accepts
from .durations import seconds
from .errors import WallarooParameterError

DEFAULT_IDLENESS = seconds(2)
DEFAULT_MAX_AHEAD = seconds(10)


def _positive_ns(what, value, example, none_means=None):
    if value is None and none_means is not None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        alternative = " or None ({0})".format(none_means) if none_means is not None else ""
        raise WallarooParameterError(
            "with_event_time({0}=...): {0} must be an int of nanoseconds above 0 (e.g. {1}){2}, got {3!r}"
            .format(what, example, alternative, value))
    return value


def event_time_entry(fn, idleness, max_ahead):
    """The source entry's ``"event_time"``: ``{"fn", "idleness", "max_ahead"}``, each value checked."""
    if fn is not None:
        if not callable(fn):
            raise WallarooParameterError(
                "with_event_time(fn=...): fn must be a function of the event returning its event time as int "
                "nanoseconds since the epoch (e.g. lambda e: wallaroo.seconds(e.ts)), or None (ingest time), "
                "got {0!r}".format(fn))
        if not accepts(fn, 1):
            raise WallarooParameterError(
                "with_event_time(fn=...): {0} must take one argument (the event)".format(
                    getattr(fn, "__name__", repr(fn))))
    return {"fn": fn,
            "idleness": _positive_ns("idleness", idleness, "wallaroo.seconds(2)"),
            "max_ahead": _positive_ns("max_ahead", max_ahead, "wallaroo.seconds(10)", none_means="no cap")}
