"""The window builders, the Aggregation contract checks and Pipeline.with_event_time (spec §1.3.4, WINDOWS.md)."""

import pytest

import wallaroo
from wallaroo import WallarooParameterError


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(bs):
    return bs.decode()


@wallaroo.encoder
def encode(data):
    return str(data).encode()


@wallaroo.key_extractor
def key(data):
    return data[0]


@wallaroo.computation(name="double")
def double(data):
    return data * 2


SRC = wallaroo.TCPSourceConfig("in", "127.0.0.1", 7000, decode)
SRC_B = wallaroo.TCPSourceConfig("in b", "127.0.0.1", 7001, decode)
SINK = wallaroo.TCPSinkConfig("127.0.0.1", 7010, encode)


class Sum(wallaroo.Aggregation):
    def initial_accumulator(self):
        return 0

    def update(self, data, acc):
        return acc + data

    def combine(self, a, b):
        return a + b

    def output(self, k, acc):
        return (k, acc)


def _error(fn):
    with pytest.raises(WallarooParameterError) as e:
        fn()
    return str(e.value)


# ---- range_windows -------------------------------------------------------------------------------------------------

def test_range_windows_defaults_are_tumbling_no_delay_drop():
    rw = wallaroo.range_windows(wallaroo.seconds(10)).over(Sum)
    assert isinstance(rw, wallaroo.RangeWindows) and isinstance(rw.aggregation, Sum)
    assert (rw.range, rw.slide, rw.delay, rw.late_data_policy) == (10 ** 10, 10 ** 10, 0, "drop")
    assert rw.stage() == ("to_range_windows", 10 ** 10, 10 ** 10, 0, rw.aggregation, "drop")


@pytest.mark.parametrize("policy", ["drop", "fire-per-message", "place-in-oldest-window"])
def test_range_windows_every_option(policy):
    rw = (wallaroo.range_windows(100).with_slide(25).with_delay(7).with_late_data_policy(policy)
          .over(Sum))
    assert (rw.range, rw.slide, rw.delay, rw.late_data_policy) == (100, 25, 7, policy)


def test_range_windows_options_in_any_order_and_slide_equal_to_range():
    rw = wallaroo.range_windows(100).with_late_data_policy("drop").with_delay(0).with_slide(100).over(Sum)
    assert (rw.range, rw.slide, rw.delay, rw.late_data_policy) == (100, 100, 0, "drop")


@pytest.mark.parametrize("method,args", [("with_slide", (10,)), ("with_delay", (1,)),
                                         ("with_late_data_policy", ("drop",))])
def test_range_windows_options_only_once(method, args):
    b = getattr(wallaroo.range_windows(100), method)(*args)
    assert _error(lambda: getattr(b, method)(*args)) == (
        "Only call `{0}()` once per window specification.".format(method))


@pytest.mark.parametrize("value", [0, -5, 1.5, True, "10", None])
def test_range_windows_range_must_be_positive_int_nanoseconds(value):
    assert _error(lambda: wallaroo.range_windows(value)) == (
        "range_windows(range): range must be an int of nanoseconds above 0 (e.g. wallaroo.seconds(10)), "
        "got {0!r}".format(value))


@pytest.mark.parametrize("value", [0, -1, 2.5, False])
def test_range_windows_slide_must_be_positive(value):
    assert _error(lambda: wallaroo.range_windows(100).with_slide(value)) == (
        "range_windows with_slide(slide): slide must be an int of nanoseconds above 0 "
        "(e.g. wallaroo.seconds(1)), got {0!r}".format(value))


def test_range_windows_slide_must_not_exceed_range():
    assert _error(lambda: wallaroo.range_windows(100).with_slide(101)) == (
        "range_windows slide (101) must not exceed the range (100)")


@pytest.mark.parametrize("value", [-1, 0.5, None, "1"])
def test_range_windows_delay_must_be_int_zero_or_more(value):
    assert _error(lambda: wallaroo.range_windows(100).with_delay(value)) == (
        "range_windows with_delay(delay): delay must be an int of nanoseconds, 0 or more "
        "(e.g. wallaroo.seconds(1)), got {0!r}".format(value))


@pytest.mark.parametrize("policy", ["keep", "", None, "Drop"])
def test_unknown_late_data_policy(policy):
    message = ("unknown late data policy {0!r}: use one of drop, fire-per-message, "
               "place-in-oldest-window".format(policy))
    assert _error(lambda: wallaroo.range_windows(100).with_late_data_policy(policy)) == message
    assert _error(lambda: wallaroo.session_windows(100).with_late_data_policy(policy)) == message


# ---- count_windows -------------------------------------------------------------------------------------------------

def test_count_windows():
    cw = wallaroo.count_windows(3).over(Sum)
    assert isinstance(cw, wallaroo.CountWindows)
    assert (cw.count, cw.late_data_policy) == (3, "drop")
    assert cw.stage() == ("to_count_windows", 3, cw.aggregation)


@pytest.mark.parametrize("value", [0, -3, 2.0, True, "3"])
def test_count_windows_count_must_be_positive_int(value):
    assert _error(lambda: wallaroo.count_windows(value)) == (
        "count_windows(count): count must be an int above 0 (events per window), got {0!r}".format(value))


# ---- session_windows -----------------------------------------------------------------------------------------------

def test_session_windows_defaults_and_options():
    sw = wallaroo.session_windows(wallaroo.seconds(30)).over(Sum)
    assert isinstance(sw, wallaroo.SessionWindows)
    assert (sw.gap, sw.delay, sw.late_data_policy) == (30 * 10 ** 9, 0, "drop")
    assert sw.stage() == ("to_session_windows", 30 * 10 ** 9, 0, sw.aggregation, "drop")
    sw = (wallaroo.session_windows(50).with_late_data_policy("place-in-oldest-window").with_delay(5)
          .over(Sum))
    assert (sw.gap, sw.delay, sw.late_data_policy) == (50, 5, "place-in-oldest-window")


@pytest.mark.parametrize("method,args", [("with_delay", (1,)), ("with_late_data_policy", ("drop",))])
def test_session_windows_options_only_once(method, args):
    b = getattr(wallaroo.session_windows(100), method)(*args)
    assert _error(lambda: getattr(b, method)(*args)) == (
        "Only call `{0}()` once per window specification.".format(method))


def test_session_windows_have_no_slide():
    assert not hasattr(wallaroo.session_windows(100), "with_slide")


@pytest.mark.parametrize("value", [0, -1, 1.5, None])
def test_session_windows_gap_must_be_positive_int(value):
    assert _error(lambda: wallaroo.session_windows(value)) == (
        "session_windows(gap): gap must be an int of nanoseconds above 0 (e.g. wallaroo.seconds(30)), "
        "got {0!r}".format(value))


def test_session_windows_delay_must_be_int_zero_or_more():
    assert _error(lambda: wallaroo.session_windows(10).with_delay(-2)) == (
        "session_windows with_delay(delay): delay must be an int of nanoseconds, 0 or more "
        "(e.g. wallaroo.seconds(1)), got -2")


# ---- the Aggregation contract --------------------------------------------------------------------------------------

BUILDERS = [lambda: wallaroo.range_windows(10), lambda: wallaroo.count_windows(2),
            lambda: wallaroo.session_windows(10)]


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("method", ["initial_accumulator", "update", "combine", "output"])
def test_aggregation_must_have_every_method(builder, method):
    Missing = type("Missing", (Sum,), {method: None})
    assert _error(lambda: builder().over(Missing)) == "Aggregation must have method '{0}'.".format(method)


def test_aggregation_without_the_base_class_needs_name():
    class Plain(object):
        def initial_accumulator(self):
            return 0

        def update(self, d, a):
            pass

        def combine(self, a, b):
            return a

        def output(self, k, a):
            return a
    assert _error(lambda: wallaroo.count_windows(2).over(Plain)) == "Aggregation must have method 'name'."
    Plain.name = lambda self: "plain"
    assert wallaroo.count_windows(2).over(Plain).describe_name() == "count_windows over plain"


@pytest.mark.parametrize("method,source,arity", [
    ("update", "def update(self, data): pass", "2 parameters"),
    ("combine", "def combine(self, a, b, c): pass", "2 parameters"),
    ("output", "def output(self, acc): pass", "2 parameters"),
    ("initial_accumulator", "def initial_accumulator(self, x): pass", "0 parameters"),
])
def test_aggregation_methods_are_checked_for_arity(method, source, arity):
    namespace = {}
    exec(source, namespace)
    Wrong = type("Wrong", (Sum,), {method: namespace[method]})
    assert _error(lambda: wallaroo.range_windows(10).over(Wrong)) == (
        "Incompatible function arity, your function Wrong.{0} must have {1}.".format(method, arity))


def test_over_instantiates_the_class_or_takes_an_instance():
    agg = Sum()
    assert wallaroo.range_windows(10).over(agg).aggregation is agg
    assert type(wallaroo.count_windows(2).over(Sum).aggregation) is Sum


def test_over_a_class_needing_arguments():
    class Needs(Sum):
        def __init__(self, factor):
            self.factor = factor
    assert _error(lambda: wallaroo.session_windows(10).over(Needs)) == (
        "session_windows.over(Needs): the aggregation class must be callable with no arguments; Needs() "
        "raised TypeError: {0}".format(_type_error(Needs)))


def _type_error(cls):
    try:
        cls()
    except TypeError as e:
        return str(e)


def test_names_come_from_name_or_the_class():
    class Named(Sum):
        def name(self):
            return "totals"
    assert wallaroo.range_windows(10).over(Sum).describe_name() == "range_windows over Sum"
    assert wallaroo.count_windows(2).over(Named).describe_name() == "count_windows over totals"
    assert wallaroo.session_windows(2).over(Named).describe_name() == "session_windows over totals"


# ---- Pipeline.to with windows --------------------------------------------------------------------------------------

def test_windows_after_key_by_and_on_unkeyed_streams():
    rw = wallaroo.range_windows(100).with_slide(50).with_late_data_policy("fire-per-message").over(Sum)
    keyed = wallaroo.source("P", SRC).key_by(key).to(rw).to_sink(SINK)
    unkeyed = wallaroo.source("P", SRC).to(double).to(rw).to_sink(SINK)
    assert wallaroo.build_application("k", keyed)[2][0][1:] == [
        ("key_by", key), ("to_range_windows", 100, 50, 0, rw.aggregation, "fire-per-message"),
        ("to_sink", SINK.to_tuple())]
    assert wallaroo.build_application("u", unkeyed)[2][0][1:] == [
        ("to", double), ("to_range_windows", 100, 50, 0, rw.aggregation, "fire-per-message"),
        ("to_sink", SINK.to_tuple())]


@pytest.mark.parametrize("builder,name", list(zip(BUILDERS, ["range_windows", "count_windows", "session_windows"])))
def test_to_a_builder_without_over(builder, name):
    assert _error(lambda: wallaroo.source("P", SRC).to(builder())) == (
        "to(): {0}(...) needs .over(AggregationClass) to make the windows a stage".format(name))


def test_to_an_aggregation_class_is_not_a_stage():
    assert _error(lambda: wallaroo.source("P", SRC).to(Sum)) == (
        "to() expects a computation object (a decorated function), got the class Sum")


def test_windows_after_a_sink():
    closed = wallaroo.source("P", SRC).to_sink(SINK)
    assert _error(lambda: closed.to(wallaroo.count_windows(2).over(Sum))) == (
        "You can't add stages after to_sink/s.")


# ---- with_event_time -----------------------------------------------------------------------------------------------

def _stamp(event):
    return event[1]


def test_with_event_time_defaults():
    p = wallaroo.source("P", SRC).with_event_time()
    assert p._vs == [[("source", "P", SRC.to_tuple()), ("with_event_time", None, 2 * 10 ** 9, 10 ** 10)]]


def test_with_event_time_every_option():
    p = wallaroo.source("P", SRC).with_event_time(_stamp, idleness=wallaroo.milliseconds(500),
                                                  max_ahead=None)
    assert p._vs[0][1] == ("with_event_time", _stamp, 500 * 10 ** 6, None)
    p = wallaroo.source("P", SRC).with_event_time(fn=_stamp, max_ahead=wallaroo.minutes(1))
    assert p._vs[0][1] == ("with_event_time", _stamp, 2 * 10 ** 9, 60 * 10 ** 9)


def test_with_event_time_takes_any_one_argument_callable():
    class Stamp(object):
        def __call__(self, event):
            return 0
    stamp = Stamp()
    assert wallaroo.source("P", SRC).with_event_time(stamp)._vs[0][1][1] is stamp
    assert wallaroo.source("P", SRC).with_event_time(lambda e, unit=1: 0)._vs[0][1][0] == "with_event_time"


@pytest.mark.parametrize("fn", [42, "ts", wallaroo.seconds(1)])
def test_with_event_time_fn_must_be_callable(fn):
    assert _error(lambda: wallaroo.source("P", SRC).with_event_time(fn)) == (
        "with_event_time(fn=...): fn must be a function of the event returning its event time as int "
        "nanoseconds since the epoch (e.g. lambda e: wallaroo.seconds(e.ts)), or None (ingest time), "
        "got {0!r}".format(fn))


def test_with_event_time_fn_takes_the_event():
    def two(event, other):
        return 0

    def none():
        return 0
    assert _error(lambda: wallaroo.source("P", SRC).with_event_time(two)) == (
        "with_event_time(fn=...): two must take one argument (the event)")
    assert _error(lambda: wallaroo.source("P", SRC).with_event_time(none)) == (
        "with_event_time(fn=...): none must take one argument (the event)")


@pytest.mark.parametrize("value", [0, -1, 1.5, True, None, "2s"])
def test_with_event_time_idleness_must_be_positive_int(value):
    assert _error(lambda: wallaroo.source("P", SRC).with_event_time(idleness=value)) == (
        "with_event_time(idleness=...): idleness must be an int of nanoseconds above 0 "
        "(e.g. wallaroo.seconds(2)), got {0!r}".format(value))


@pytest.mark.parametrize("value", [0, -1, 1.5, False, "10s"])
def test_with_event_time_max_ahead_must_be_positive_int_or_none(value):
    assert _error(lambda: wallaroo.source("P", SRC).with_event_time(max_ahead=value)) == (
        "with_event_time(max_ahead=...): max_ahead must be an int of nanoseconds above 0 "
        "(e.g. wallaroo.seconds(10)) or None (no cap), got {0!r}".format(value))


RIGHT_AFTER = ("with_event_time() must come right after wallaroo.source(...), before any other stage or "
               "merge(): wallaroo.source(name, config).with_event_time(fn)")


def test_with_event_time_only_right_after_the_source():
    assert _error(lambda: wallaroo.source("P", SRC).to(double).with_event_time(_stamp)) == RIGHT_AFTER
    assert _error(lambda: wallaroo.source("P", SRC).key_by(key).with_event_time()) == RIGHT_AFTER
    merged = wallaroo.source("A", SRC).merge(wallaroo.source("B", SRC_B))
    assert _error(lambda: merged.with_event_time(_stamp)) == RIGHT_AFTER
    assert _error(lambda: wallaroo.source("P", SRC).to_sink(SINK).with_event_time()) == RIGHT_AFTER


def test_with_event_time_once():
    p = wallaroo.source("P", SRC).with_event_time(_stamp)
    assert _error(lambda: p.with_event_time(_stamp)) == (
        "Only call `with_event_time()` once per source (pipeline 'P').")


def test_with_event_time_leaves_the_receiver_unchanged_and_merges():
    plain = wallaroo.source("A", SRC)
    timed = plain.with_event_time(_stamp)
    assert plain._vs == [[("source", "A", SRC.to_tuple())]]
    both = timed.key_by(key).merge(wallaroo.source("B", SRC_B).with_event_time().key_by(key))
    assert both._vs[0][1][0] == "with_event_time" and both._vs[2][1][0] == "with_event_time"
    assert _error(lambda: timed.merge(wallaroo.source("B", SRC_B).key_by(key))) == (
        "A pipeline ending with key_by can only be merged with another!")
    timed.merge(wallaroo.source("B", SRC_B))  # neither ends with key_by: with_event_time is not a stage


# ---- durations -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("helper,factor", [
    (wallaroo.nanoseconds, 1), (wallaroo.microseconds, 10 ** 3), (wallaroo.milliseconds, 10 ** 6),
    (wallaroo.seconds, 10 ** 9), (wallaroo.minutes, 60 * 10 ** 9), (wallaroo.hours, 3600 * 10 ** 9)])
def test_durations_are_int_nanoseconds(helper, factor):
    for x in (0, 1, 7, -2):
        assert helper(x) == x * factor and type(helper(x)) is int
    assert helper(2.5) == int(round(2.5 * factor)) and type(helper(2.5)) is int


@pytest.mark.parametrize("value", ["3", None, float("inf"), float("nan"), [1]])
def test_durations_refuse_what_is_not_a_number(value):
    assert _error(lambda: wallaroo.seconds(value)) == (
        "wallaroo.seconds(x): x must be a finite number, got {0!r}".format(value))
    assert _error(lambda: wallaroo.milliseconds(value)).startswith("wallaroo.milliseconds(x): ")
