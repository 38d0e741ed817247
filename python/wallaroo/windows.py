"""Window builders and the Aggregation base class (built here, not yet run by Roo)."""

from .errors import WallarooParameterError

LATE_DATA_POLICIES = ("drop", "fire-per-message", "place-in-oldest-window")


class Aggregation(object):
    """Subclass and implement ``initial_accumulator``, ``update``, ``combine``, ``output``."""

    def name(self):
        return self.__class__.__name__


def _aggregation_name(agg):
    try:
        return str(agg.name())
    except Exception:  # a broken name() must not hide the real error
        return type(agg).__name__


def _validate_aggregation(agg):
    for method in ("name", "initial_accumulator", "update", "combine", "output"):
        if not hasattr(agg, method):
            raise WallarooParameterError(
                "Aggregation must have method '{0}'.".format(method))


def _instantiate(aggregation_cls):
    agg = aggregation_cls() if isinstance(aggregation_cls, type) else aggregation_cls
    _validate_aggregation(agg)
    return agg


def _positive_int(what, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise WallarooParameterError(
            "{0} must be a positive int (nanoseconds or a count), got {1!r}"
            .format(what, value))
    return value


class RangeWindows(object):
    """``range_windows(...).over(Agg)``: a stage for ``Pipeline.to``."""

    def __init__(self, wrange, slide, delay, agg, late_data_policy="drop"):
        self.range = wrange
        self.slide = slide
        self.delay = delay
        self.aggregation = agg
        self.late_data_policy = late_data_policy

    def describe_name(self):
        return "range_windows over {0}".format(_aggregation_name(self.aggregation))


class RangeWindowsBuilder(object):
    """Built by ``range_windows(range_ns)``; each ``with_*`` may be called once."""

    def __init__(self, wrange):
        self.range = _positive_int("range_windows range", wrange)
        self.slide = None
        self.delay = None
        self.late_data_policy = None

    def _once(self, attr, method, value):
        if getattr(self, attr) is not None:
            raise WallarooParameterError(
                "Only call `{0}()` once per window specification.".format(method))
        setattr(self, attr, value)
        return self

    def with_slide(self, slide):
        _positive_int("range_windows slide", slide)
        if slide > self.range:
            raise WallarooParameterError(
                "range_windows slide ({0}) must not exceed the range ({1})"
                .format(slide, self.range))
        return self._once("slide", "with_slide", slide)

    def with_delay(self, delay):
        if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
            raise WallarooParameterError(
                "range_windows delay must be a non-negative int, got {0!r}".format(delay))
        return self._once("delay", "with_delay", delay)

    def with_late_data_policy(self, policy):
        if policy not in LATE_DATA_POLICIES:
            raise WallarooParameterError(
                "unknown late data policy {0!r}: use one of {1}".format(
                    policy, ", ".join(LATE_DATA_POLICIES)))
        return self._once("late_data_policy", "with_late_data_policy", policy)

    def over(self, aggregation_cls):
        return RangeWindows(self.range,
                            self.range if self.slide is None else self.slide,
                            0 if self.delay is None else self.delay,
                            _instantiate(aggregation_cls),
                            self.late_data_policy or "drop")


class CountWindows(object):
    """``count_windows(n).over(Agg)``: a stage for ``Pipeline.to``."""

    def __init__(self, count, agg):
        self.count = count
        self.aggregation = agg

    def describe_name(self):
        return "count_windows over {0}".format(_aggregation_name(self.aggregation))


class CountWindowsBuilder(object):
    """Built by ``count_windows(n)``."""

    def __init__(self, count):
        self.count = _positive_int("count_windows count", count)

    def over(self, aggregation_cls):
        return CountWindows(self.count, _instantiate(aggregation_cls))


def range_windows(wrange):
    """Windows of ``wrange`` nanoseconds (tumbling unless ``with_slide``)."""
    return RangeWindowsBuilder(wrange)


def count_windows(count):
    """Windows of ``count`` messages per key."""
    return CountWindowsBuilder(count)
