"""G2 Pipeline and build_application: shapes, immutability, Wallaroo's error texts."""

import pytest

import wallaroo
from wallaroo import WallarooParameterError


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(bs):
    return bs


@wallaroo.encoder
def encode(data):
    return data


@wallaroo.computation(name="double")
def double(data):
    return data * 2


class Counter(object):
    def __init__(self):
        self.n = 0


@wallaroo.state_computation(name="count", state=Counter)
def count(data, state):
    state.n += 1
    return state.n


@wallaroo.key_extractor
def key(data):
    return data


SRC_A = wallaroo.TCPSourceConfig("a", "127.0.0.1", 7000, decode)
SRC_B = wallaroo.TCPSourceConfig("b", "127.0.0.1", 7001, decode)
SRC_C = wallaroo.TCPSourceConfig("c", "127.0.0.1", 7002, decode)
SINK = wallaroo.TCPSinkConfig("127.0.0.1", 7010, encode)
SINK2 = wallaroo.TCPSinkConfig("127.0.0.1", "7011", encode)


def test_linear_shape():
    p = wallaroo.source("A", SRC_A).to(double).key_by(key).to(count).collect().to_sink(SINK)
    app = wallaroo.build_application("app", p)
    assert app == ("app", 0, [[
        ("source", "A", SRC_A.to_tuple()), ("to", double), ("key_by", key),
        ("to_state", count), ("collect", ""), ("to_sink", SINK.to_tuple())]], [[]])


def test_to_sinks_shape():
    p = wallaroo.source("A", SRC_A).to_sinks([SINK, SINK2])
    _, _, vs, _ = wallaroo.build_application("app", p)
    assert vs[0][-1] == ("to_sinks", [SINK.to_tuple(), SINK2.to_tuple()])


def test_every_method_returns_a_new_pipeline():
    base = wallaroo.source("A", SRC_A)
    with_double = base.to(double)
    assert with_double is not base
    closed = base.to_sink(SINK)
    assert wallaroo.build_application("x", closed)[2] == [[
        ("source", "A", SRC_A.to_tuple()), ("to_sink", SINK.to_tuple())]]
    # the receiver is untouched, so it can still grow differently
    assert wallaroo.build_application("y", with_double.to_sink(SINK))[2][0][1] == ("to", double)
    assert wallaroo.build_application("z", base.collect().to_sink(SINK))[2][0][1] == ("collect", "")


def test_merge_tree_shape():
    a = wallaroo.source("A", SRC_A).to(double)
    b = wallaroo.source("B", SRC_B)
    c = wallaroo.source("C", SRC_C).to(double)
    p = a.merge(b).to(double).merge(c).to_sink(SINK)
    app_name, root, vs, es = wallaroo.build_application("merged", p)
    assert app_name == "merged"
    assert vs == [
        [("source", "A", SRC_A.to_tuple()), ("to", double)],   # 0: A
        [("to", double)],                                       # 1: merge(A, B)
        [("source", "B", SRC_B.to_tuple())],                    # 2: B
        [("to_sink", SINK.to_tuple())],                         # 3: merge(1, C)
        [("source", "C", SRC_C.to_tuple()), ("to", double)],   # 4: C
    ]
    assert es == [[], [0, 2], [], [1, 4], []]
    assert root == 3


def test_merge_of_merged_trees_reindexes_children():
    left = wallaroo.source("A", SRC_A).merge(wallaroo.source("B", SRC_B))
    right = wallaroo.source("C", SRC_C).merge(wallaroo.source("A2", SRC_A))
    _, root, vs, es = wallaroo.build_application("m", left.merge(right).to_sink(SINK))
    assert es == [[], [0, 2], [], [1, 5], [], [4, 6], []]
    assert root == 3
    assert [v[0][1] for v in vs if v and v[0][0] == "source"] == ["A", "B", "C", "A2"]


def test_application_must_end_with_sink():
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.build_application("app", wallaroo.source("A", SRC_A).to(double))
    assert str(e.value) == "An application must end with to_sink/s."


def test_no_stages_after_sink():
    closed = wallaroo.source("A", SRC_A).to_sink(SINK)
    for add in (lambda p: p.to(double), lambda p: p.key_by(key), lambda p: p.collect(),
                lambda p: p.to_sink(SINK), lambda p: p.to_sinks([SINK])):
        with pytest.raises(WallarooParameterError) as e:
            add(closed)
        assert str(e.value) == "You can't add stages after to_sink/s."


def test_merge_rules():
    open_a = wallaroo.source("A", SRC_A)
    closed_b = wallaroo.source("B", SRC_B).to_sink(SINK)
    with pytest.raises(WallarooParameterError) as e:
        open_a.merge(closed_b)
    assert str(e.value) == "You can't merge with a terminated pipeline!"
    with pytest.raises(WallarooParameterError) as e:
        closed_b.merge(open_a)
    assert str(e.value) == "You can't merge with a terminated pipeline!"
    with pytest.raises(WallarooParameterError) as e:
        open_a.key_by(key).merge(wallaroo.source("B", SRC_B))
    assert str(e.value) == "A pipeline ending with key_by can only be merged with another!"
    with pytest.raises(WallarooParameterError) as e:
        open_a.merge(wallaroo.source("B", SRC_B).key_by(key))
    assert str(e.value) == "A pipeline ending with key_by can only be merged with another!"
    both = open_a.key_by(key).merge(wallaroo.source("B", SRC_B).key_by(key))
    # the merged pipeline still ends with key_by (nothing added after the merge)
    with pytest.raises(WallarooParameterError):
        both.merge(wallaroo.source("C", SRC_C))
    assert both.merge(wallaroo.source("C", SRC_C).key_by(key)) is not None


def test_to_rejects_non_computations():
    p = wallaroo.source("A", SRC_A)
    with pytest.raises(WallarooParameterError) as e:
        p.to(42)
    assert str(e.value) == ("to() expects a computation (@wallaroo.computation...), a state "
                            "computation or windows, got 42")
    with pytest.raises(WallarooParameterError) as e:
        p.to(Counter)
    assert str(e.value) == ("to() expects a computation object (a decorated function), "
                            "got the class Counter")

    @wallaroo.state_computation("g1 style")
    def g1(data, state):
        return (data, False)
    with pytest.raises(WallarooParameterError) as e:
        p.to(g1)
    assert str(e.value) == ("to(): state computation 'g1 style' has no state class; with "
                            "wallaroo.source(...) pipelines write "
                            "@wallaroo.state_computation(name, StateClass)")


def test_other_argument_errors():
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.source("A", SRC_A).key_by(double)
    assert "key_by() expects a key extractor" in str(e.value)
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.source("A", SRC_A).to_sinks([])
    assert "to_sinks() expects a non-empty list" in str(e.value)
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.source("A", "not a config")
    assert "expected a source config" in str(e.value)
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.build_application("app", "not a pipeline")
    assert "expected a pipeline from wallaroo.source" in str(e.value)


class Sum(wallaroo.Aggregation):
    def initial_accumulator(self):
        return [0]

    def update(self, data, acc):
        acc[0] += data

    def combine(self, a, b):
        return [a[0] + b[0]]

    def output(self, key, acc):
        return acc[0]


def test_windows_build_stages():
    rw = (wallaroo.range_windows(wallaroo.seconds(10)).with_slide(wallaroo.seconds(5))
          .with_delay(wallaroo.milliseconds(1)).with_late_data_policy("fire-per-message")
          .over(Sum))
    p = wallaroo.source("A", SRC_A).key_by(key).to(rw).to(wallaroo.count_windows(3).over(Sum))
    _, _, vs, _ = wallaroo.build_application("w", p.to_sink(SINK))
    kind, wrange, slide, delay, agg, policy = vs[0][2]
    assert (kind, wrange, slide, delay, policy) == (
        "to_range_windows", 10 ** 10, 5 * 10 ** 9, 10 ** 6, "fire-per-message")
    assert isinstance(agg, Sum)
    assert vs[0][3][0:2] == ("to_count_windows", 3) and isinstance(vs[0][3][2], Sum)


def test_window_defaults_and_errors():
    rw = wallaroo.range_windows(100).over(Sum)
    assert (rw.range, rw.slide, rw.delay, rw.late_data_policy) == (100, 100, 0, "drop")
    b = wallaroo.range_windows(100).with_slide(10)
    with pytest.raises(WallarooParameterError) as e:
        b.with_slide(20)
    assert str(e.value) == "Only call `with_slide()` once per window specification."
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.range_windows(100).with_delay(1).with_delay(2)
    assert str(e.value) == "Only call `with_delay()` once per window specification."
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.range_windows(100).with_late_data_policy("keep")
    assert str(e.value) == ("unknown late data policy 'keep': use one of drop, "
                            "fire-per-message, place-in-oldest-window")
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.range_windows(100).with_slide(200)
    assert str(e.value) == "range_windows slide (200) must not exceed the range (100)"

    class NoCombine(object):
        def name(self):
            return "n"

        def initial_accumulator(self):
            return 0

        def update(self, d, a):
            pass

        def output(self, k, a):
            return a
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.count_windows(2).over(NoCombine)
    assert str(e.value) == "Aggregation must have method 'combine'."


def test_time_units_are_ints():
    assert wallaroo.nanoseconds(7) == 7
    assert wallaroo.microseconds(3) == 3000
    assert wallaroo.milliseconds(2) == 2000000
    assert wallaroo.seconds(1) == 10 ** 9
    assert wallaroo.minutes(2) == 120 * 10 ** 9
    assert wallaroo.hours(1) == 3600 * 10 ** 9
    assert wallaroo.seconds(0.5) == 500000000 and isinstance(wallaroo.seconds(0.5), int)
    assert wallaroo.milliseconds(0.29) == 290000
