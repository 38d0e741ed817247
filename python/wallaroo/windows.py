"""Window builders and the Aggregation base class (spec §1.3.4; docs/windows.md).

``range_windows(range)`` and ``count_windows(n)`` are Wallaroo's; ``session_windows(gap)`` is Roo's. A builder's
``over(AggregationClass)`` gives the windows object ``Pipeline.to`` takes. Every value is checked when it is
given, so a mistake is a ``WallarooParameterError`` at start, never a failure at run time.
"""

from ._arity import validate_arity
from .errors import WallarooParameterError

LATE_DATA_POLICIES = ("drop", "fire-per-message", "place-in-oldest-window")

# The methods an aggregation needs, with the number of arguments each takes (besides self).
_AGGREGATION_METHODS = (("name", 0), ("initial_accumulator", 0), ("update", 2), ("combine", 2),
                        ("output", 2))


class Aggregation(object):
    """Subclass and implement ``initial_accumulator``, ``update``, ``combine``, ``output``.

    ``initial_accumulator()`` returns a fresh accumulator; ``update(data, acc)`` adds one event to ``acc``
    (in place; a value it returns other than None replaces ``acc``, a Roo extension);
    ``combine(acc1, acc2)`` returns the two merged, without changing them; ``output(key, acc)`` returns the
    window's output (None: no output). ``name()`` defaults to the class name.
    """

    def name(self):
        return self.__class__.__name__


def aggregation_name(agg):
    """``agg.name()`` as str (the class name when it raises)."""
    try:
        return str(agg.name())
    except Exception:  # a broken name() must not hide the real error
        return type(agg).__name__


def _check_aggregation(agg):
    for method, arity in _AGGREGATION_METHODS:
        bound = getattr(agg, method, None)
        if not callable(bound):
            raise WallarooParameterError("Aggregation must have method '{0}'.".format(method))
        validate_arity("{0}.{1}".format(type(agg).__name__, method), bound, arity)
    return agg


def _instantiate(aggregation_cls, builder):
    """Wallaroo's ``over(AggregationClass)`` makes the instance; an instance is taken as it is."""
    if not isinstance(aggregation_cls, type):
        return _check_aggregation(aggregation_cls)
    try:
        agg = aggregation_cls()
    except Exception as e:
        raise WallarooParameterError(
            "{0}.over({1}): the aggregation class must be callable with no arguments; {1}() raised {2}: {3}"
            .format(builder, aggregation_cls.__name__, type(e).__name__, e))
    return _check_aggregation(agg)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _nanoseconds(where, what, value, example):
    """A duration above 0 in int nanoseconds."""
    if not _is_int(value) or value <= 0:
        raise WallarooParameterError(
            "{0}: {1} must be an int of nanoseconds above 0 (e.g. {2}), got {3!r}".format(
                where, what, example, value))
    return value


def _delay(where, value):
    if not _is_int(value) or value < 0:
        raise WallarooParameterError(
            "{0}: delay must be an int of nanoseconds, 0 or more (e.g. wallaroo.seconds(1)), got {1!r}".format(
                where, value))
    return value


def _policy(policy):
    if policy not in LATE_DATA_POLICIES:
        raise WallarooParameterError(
            "unknown late data policy {0!r}: use one of {1}".format(policy, ", ".join(LATE_DATA_POLICIES)))
    return policy


def _slide(slide, wrange):
    _nanoseconds("range_windows with_slide(slide)", "slide", slide, "wallaroo.seconds(1)")
    if slide > wrange:
        raise WallarooParameterError(
            "range_windows slide ({0}) must not exceed the range ({1})".format(slide, wrange))
    return slide


class Windows(object):
    """What ``over`` built: one window stage. Unused sizes are 0 (the description has every key)."""

    kind = None  # "range", "count" or "session"
    stage_kind = None  # the stage tuple's first item

    def __init__(self, agg, wrange=0, slide=0, delay=0, gap=0, count=0, late_data_policy="drop"):
        self.aggregation = _check_aggregation(agg)
        self.range = wrange
        self.slide = slide
        self.delay = delay
        self.gap = gap
        self.count = count
        self.late_data_policy = _policy(late_data_policy)

    def describe_name(self):
        return "{0}_windows over {1}".format(self.kind, aggregation_name(self.aggregation))


class RangeWindows(Windows):
    """``range_windows(...).over(Agg)``: a stage for ``Pipeline.to``."""

    kind = "range"
    stage_kind = "to_range_windows"

    def __init__(self, wrange, slide, delay, agg, late_data_policy="drop"):
        where = "range_windows(range)"
        _nanoseconds(where, "range", wrange, "wallaroo.seconds(10)")
        Windows.__init__(self, agg, wrange=wrange, slide=_slide(slide, wrange),
                          delay=_delay("range_windows with_delay(delay)", delay),
                          late_data_policy=late_data_policy)

    def stage(self):
        """Wallaroo's stage tuple (spec §1.3.7)."""
        return (self.stage_kind, self.range, self.slide, self.delay, self.aggregation, self.late_data_policy)


class CountWindows(Windows):
    """``count_windows(n).over(Agg)``: a stage for ``Pipeline.to``."""

    kind = "count"
    stage_kind = "to_count_windows"

    def __init__(self, count, agg):
        Windows.__init__(self, agg, count=_count(count))

    def stage(self):
        """Wallaroo's stage tuple (spec §1.3.7)."""
        return (self.stage_kind, self.count, self.aggregation)


class SessionWindows(Windows):
    """``session_windows(gap).over(Agg)``: a stage for ``Pipeline.to`` (Roo's)."""

    kind = "session"
    stage_kind = "to_session_windows"

    def __init__(self, gap, delay, agg, late_data_policy="drop"):
        Windows.__init__(self, agg, gap=_gap(gap), delay=_delay("session_windows with_delay(delay)", delay),
                          late_data_policy=late_data_policy)

    def stage(self):
        """Roo's stage tuple, shaped like the range windows' one."""
        return (self.stage_kind, self.gap, self.delay, self.aggregation, self.late_data_policy)


def _count(count):
    if not _is_int(count) or count <= 0:
        raise WallarooParameterError(
            "count_windows(count): count must be an int above 0 (events per window), got {0!r}".format(count))
    return count


def _gap(gap):
    return _nanoseconds("session_windows(gap)", "gap", gap, "wallaroo.seconds(30)")


def windows_of_stage(stage):
    """The windows object a stage tuple holds (checked again: a hand-made tree may hold anything)."""
    kind = stage[0]
    if kind == RangeWindows.stage_kind and len(stage) in (5, 6):  # 5: Wallaroo 0.6.1, before late policies
        return RangeWindows(stage[1], stage[2], stage[3], stage[4], stage[5] if len(stage) == 6 else "drop")
    if kind == CountWindows.stage_kind and len(stage) == 3:
        return CountWindows(stage[1], stage[2])
    if kind == SessionWindows.stage_kind and len(stage) == 5:
        return SessionWindows(stage[1], stage[2], stage[3], stage[4])
    raise WallarooParameterError("unrecognised windows stage {0!r}".format(stage))


class _WindowsBuilder(object):
    """Shared by the builders: each ``with_*`` may be called once (Wallaroo's rule)."""

    builder = None  # "range_windows", ...

    def _once(self, attr, method, value):
        if getattr(self, attr) is not None:
            raise WallarooParameterError("Only call `{0}()` once per window specification.".format(method))
        setattr(self, attr, value)
        return self

    def with_delay(self, delay):
        """Wait ``delay`` ns of event time past a window's end before it fires (late events still count)."""
        _delay("{0} with_delay(delay)".format(self.builder), delay)
        return self._once("delay", "with_delay", delay)

    def with_late_data_policy(self, policy):
        """``"drop"`` (default), ``"fire-per-message"`` or ``"place-in-oldest-window"``."""
        return self._once("late_data_policy", "with_late_data_policy", _policy(policy))

    def _delay_or_default(self):
        return 0 if self.delay is None else self.delay

    def _policy_or_default(self):
        return self.late_data_policy or "drop"


class RangeWindowsBuilder(_WindowsBuilder):
    """Built by ``range_windows(range_ns)``; each ``with_*`` may be called once."""

    builder = "range_windows"

    def __init__(self, wrange):
        self.range = _nanoseconds("range_windows(range)", "range", wrange, "wallaroo.seconds(10)")
        self.slide = None
        self.delay = None
        self.late_data_policy = None

    def with_slide(self, slide):
        """Start a window every ``slide`` ns (0 < slide <= range; default: range, i.e. tumbling windows)."""
        return self._once("slide", "with_slide", _slide(slide, self.range))

    def over(self, aggregation_cls):
        """The windows, aggregated by ``aggregation_cls()`` (an Aggregation class, or an instance)."""
        return RangeWindows(self.range, self.range if self.slide is None else self.slide,
                            self._delay_or_default(), _instantiate(aggregation_cls, self.builder),
                            self._policy_or_default())


class CountWindowsBuilder(object):
    """Built by ``count_windows(n)``."""

    builder = "count_windows"

    def __init__(self, count):
        self.count = _count(count)

    def over(self, aggregation_cls):
        """The windows, aggregated by ``aggregation_cls()`` (an Aggregation class, or an instance)."""
        return CountWindows(self.count, _instantiate(aggregation_cls, self.builder))


class SessionWindowsBuilder(_WindowsBuilder):
    """Built by ``session_windows(gap_ns)``; each ``with_*`` may be called once."""

    builder = "session_windows"

    def __init__(self, gap):
        self.gap = _gap(gap)
        self.delay = None
        self.late_data_policy = None

    def over(self, aggregation_cls):
        """The sessions, aggregated by ``aggregation_cls()`` (an Aggregation class, or an instance)."""
        return SessionWindows(self.gap, self._delay_or_default(), _instantiate(aggregation_cls, self.builder),
                              self._policy_or_default())


WINDOWS_BUILDERS = (RangeWindowsBuilder, CountWindowsBuilder, SessionWindowsBuilder)


def range_windows(wrange):
    """Windows of ``wrange`` nanoseconds of event time, aligned to the epoch (tumbling unless ``with_slide``)."""
    return RangeWindowsBuilder(wrange)


def count_windows(count):
    """Windows of ``count`` events per key."""
    return CountWindowsBuilder(count)


def session_windows(gap):
    """Per key, a session of events each less than ``gap`` nanoseconds of event time from the next (Roo's)."""
    return SessionWindowsBuilder(gap)
