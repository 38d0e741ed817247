"""describe() of windowed G2 apps: window stage entries and the sources' "event_time" (WINDOWS.md)."""

import pytest

import wallaroo
from wallaroo import WallarooParameterError
from wallaroo.description import describe


def _decode(bs):
    return bs.decode()


def _encode(data):
    return str(data).encode()


def _key(data):
    return data[0]


def _stamp(event):
    return event[1]


decode = wallaroo.decoder(header_length=4, length_fmt=">I")(_decode)
encode = wallaroo.encoder(_encode)
key = wallaroo.key_extractor(_key)

SRC = wallaroo.TCPSourceConfig("in", "127.0.0.1", 7000, decode)
SRC_B = wallaroo.TCPSourceConfig("in b", "127.0.0.1", 7001, decode)
SINK = wallaroo.TCPSinkConfig("127.0.0.1", 7010, encode)


class Counter(wallaroo.Aggregation):
    def initial_accumulator(self):
        return 0

    def update(self, data, acc):
        return acc + 1

    def combine(self, a, b):
        return a + b

    def output(self, k, acc):
        return (k, acc)


class Named(Counter):
    def name(self):
        return "totals"


class Totals(object):
    def __init__(self):
        self.n = 0


@wallaroo.state_computation(name="range_windows over Counter", state=Totals)
def same_name_as_a_window(data, state):
    return data


def _app(pipeline):
    return describe(wallaroo.build_application("app", pipeline))


def _window(name, window, aggregation, state_id=None, wrange=0, slide=0, delay=0, gap=0, count=0,
            policy="drop"):
    return {"kind": "window", "name": name, "state_id": state_id or name, "window": window,
            "range": wrange, "slide": slide, "delay": delay, "gap": gap, "count": count,
            "late_data_policy": policy, "aggregation": aggregation}


def _tcp_source(name, port, event_time=None):
    return {"kind": "tcp", "name": name, "host": "127.0.0.1", "port": port, "max_size": 16384,
            "parallelism": 10, "valid": True, "header_length": 4, "length_fmt": ">I", "decode": _decode,
            "event_time": event_time}


KEY_BY = {"kind": "key_by", "name": "_key", "fn": _key, "int_as_chr": True}


def test_range_windows_entry_after_key_by():
    rw = (wallaroo.range_windows(wallaroo.seconds(10)).with_slide(wallaroo.seconds(2))
          .with_delay(wallaroo.milliseconds(500)).with_late_data_policy("place-in-oldest-window").over(Counter))
    d = _app(wallaroo.source("P", SRC).key_by(key).to(rw).to_sink(SINK))
    assert d["sources"] == [_tcp_source("in", 7000)]
    assert d["stages"] == [KEY_BY, _window("range_windows over Counter", "range", rw.aggregation,
                                           wrange=10 ** 10, slide=2 * 10 ** 9, delay=5 * 10 ** 8,
                                           policy="place-in-oldest-window")]
    assert d["stages"][1]["aggregation"] is rw.aggregation
    assert d["flows"] == [{"source": 0, "stages": [0, 1], "sinks": [0]}]


def test_tumbling_range_windows_entry_defaults():
    d = _app(wallaroo.source("P", SRC).to(wallaroo.range_windows(100).over(Named)).to_sink(SINK))
    assert d["stages"] == [_window("range_windows over totals", "range", d["stages"][0]["aggregation"],
                                   wrange=100, slide=100)]
    assert type(d["stages"][0]["aggregation"]) is Named


def test_count_windows_entry_on_an_unkeyed_stream():
    cw = wallaroo.count_windows(5).over(Counter)
    d = _app(wallaroo.source("P", SRC).to(cw).to_sink(SINK))
    assert d["stages"] == [_window("count_windows over Counter", "count", cw.aggregation, count=5)]
    assert d["flows"] == [{"source": 0, "stages": [0], "sinks": [0]}]


@pytest.mark.parametrize("policy", ["drop", "fire-per-message", "place-in-oldest-window"])
def test_session_windows_entry(policy):
    sw = (wallaroo.session_windows(wallaroo.minutes(5)).with_delay(wallaroo.seconds(1))
          .with_late_data_policy(policy).over(Counter))
    d = _app(wallaroo.source("P", SRC).key_by(key).to(sw).to_sink(SINK))
    assert d["stages"][1] == _window("session_windows over Counter", "session", sw.aggregation,
                                     gap=300 * 10 ** 9, delay=10 ** 9, policy=policy)


def test_every_window_stage_has_its_own_state_id():
    a, b = Counter(), Counter()
    p = (wallaroo.source("P", SRC).key_by(key).to(same_name_as_a_window)
         .to(wallaroo.range_windows(10).over(a)).to(wallaroo.range_windows(10).over(b))
         .to(wallaroo.count_windows(2).over(a)).to(wallaroo.count_windows(2).over(a)).to_sink(SINK))
    d = _app(p)
    assert [(s["kind"], s["name"], s.get("state_id")) for s in d["stages"]] == [
        ("key_by", "_key", None),
        ("state", "range_windows over Counter", "range_windows over Counter"),
        ("window", "range_windows over Counter", "range_windows over Counter (2)"),
        ("window", "range_windows over Counter", "range_windows over Counter (3)"),
        ("window", "count_windows over Counter", "count_windows over Counter"),
        ("window", "count_windows over Counter", "count_windows over Counter (2)"),
    ]
    assert d["stages"][2]["aggregation"] is a and d["stages"][3]["aggregation"] is b


def test_a_state_stage_after_a_window_skips_the_windows_id():
    p = (wallaroo.source("P", SRC).to(wallaroo.range_windows(10).over(Counter)).to(same_name_as_a_window)
         .to_sink(SINK))
    assert [s["state_id"] for s in _app(p)["stages"]] == [
        "range_windows over Counter", "range_windows over Counter (2)"]


def test_windows_after_a_merge_are_one_stage_of_both_flows():
    sw = wallaroo.session_windows(50).over(Counter)
    a = wallaroo.source("A", SRC).with_event_time(_stamp).key_by(key)
    b = wallaroo.source("B", SRC_B).key_by(key)
    d = _app(a.merge(b).to(sw).to_sink(SINK))
    assert [s["kind"] for s in d["stages"]] == ["key_by", "key_by", "window"]
    assert d["flows"] == [{"source": 0, "stages": [0, 2], "sinks": [0]},
                          {"source": 1, "stages": [1, 2], "sinks": [0]}]
    assert [s["event_time"] for s in d["sources"]] == [
        {"fn": _stamp, "idleness": 2 * 10 ** 9, "max_ahead": 10 ** 10}, None]


def test_event_time_entry_defaults_and_options():
    d = _app(wallaroo.source("P", SRC).with_event_time().to_sink(SINK))
    assert d["sources"] == [_tcp_source("in", 7000, {"fn": None, "idleness": 2 * 10 ** 9,
                                                     "max_ahead": 10 ** 10})]
    assert d["stages"] == [] and d["flows"] == [{"source": 0, "stages": [], "sinks": [0]}]
    d = _app(wallaroo.source("P", SRC).with_event_time(_stamp, idleness=wallaroo.milliseconds(250),
                                                       max_ahead=None)
             .key_by(key).to(wallaroo.range_windows(10).over(Counter)).to_sink(SINK))
    assert d["sources"][0]["event_time"] == {"fn": _stamp, "idleness": 250 * 10 ** 6, "max_ahead": None}
    assert d["sources"][0]["event_time"]["fn"] is _stamp
    assert [s["kind"] for s in d["stages"]] == ["key_by", "window"]
    assert d["flows"] == [{"source": 0, "stages": [0, 1], "sinks": [0]}]


class Gen(object):
    def initial_value(self):
        return 1

    def apply(self, v):
        return None


def test_event_time_on_a_generator_source():
    g = Gen()
    d = _app(wallaroo.source("G", wallaroo.GenSourceConfig("gen", g)).with_event_time(_stamp).to_sink(SINK))
    assert d["sources"] == [{"kind": "gen", "name": "gen", "initial_value": g.initial_value, "apply": g.apply,
                             "event_time": {"fn": _stamp, "idleness": 2 * 10 ** 9, "max_ahead": 10 ** 10}}]


def test_g1_sources_have_no_event_time():
    ab = wallaroo.ApplicationBuilder("G1")
    ab.new_pipeline("P", wallaroo.TCPSourceConfig("127.0.0.1", 7000, decode))
    d = describe(ab.to_sink(SINK).build())
    assert d["sources"][0]["event_time"] is None


# ---- hand-made trees: describe checks them as the builders do ----------------------------------------------------

SOURCE = ("source", "P", SRC.to_tuple())
TO_SINK = ("to_sink", SINK.to_tuple())


def _tree_error(*stages):
    with pytest.raises(WallarooParameterError) as e:
        describe(("app", 0, [[SOURCE] + list(stages) + [TO_SINK]], [[]]))
    return str(e.value)


def test_wallaroo_0_6_1_range_windows_tuple_has_no_policy():
    agg = Counter()
    d = describe(("app", 0, [[SOURCE, ("to_range_windows", 10, 5, 1, agg), TO_SINK]], [[]]))
    assert d["stages"] == [_window("range_windows over Counter", "range", agg, wrange=10, slide=5, delay=1)]


def test_hand_made_window_stages_are_checked():
    agg = Counter()
    assert _tree_error(("to_range_windows", 10, 20, 0, agg, "drop")) == (
        "pipeline 'P', stage 1 (to_range_windows): range_windows slide (20) must not exceed the range (10)")
    assert _tree_error(("to_range_windows", 0, 0, 0, agg, "drop")) == (
        "pipeline 'P', stage 1 (to_range_windows): range_windows(range): range must be an int of nanoseconds "
        "above 0 (e.g. wallaroo.seconds(10)), got 0")
    assert _tree_error(("to_session_windows", 10, 0, agg, "later")) == (
        "pipeline 'P', stage 1 (to_session_windows): unknown late data policy 'later': use one of drop, "
        "fire-per-message, place-in-oldest-window")
    assert _tree_error(("to_count_windows", 0, agg)) == (
        "pipeline 'P', stage 1 (to_count_windows): count_windows(count): count must be an int above 0 "
        "(events per window), got 0")
    assert _tree_error(("to_count_windows", 2, object())) == (
        "pipeline 'P', stage 1 (to_count_windows): Aggregation must have method 'name'.")
    assert _tree_error(("to_count_windows", 2)) == (
        "pipeline 'P', stage 1 (to_count_windows): unrecognised windows stage ('to_count_windows', 2)")


def test_hand_made_event_time_is_checked_and_only_after_the_source():
    assert _tree_error(("with_event_time", _stamp, 0, None)) == (
        "pipeline 'P': with_event_time(idleness=...): idleness must be an int of nanoseconds above 0 "
        "(e.g. wallaroo.seconds(2)), got 0")
    assert _tree_error(("with_event_time", _stamp)) == (
        "pipeline 'P': bad with_event_time stage ('with_event_time', <function _stamp at {0:#x}>)".format(
            id(_stamp)))
    assert _tree_error(("key_by", key), ("with_event_time", None, 1, 1)) == (
        "pipeline 'P', stage 2 (with_event_time): with_event_time() must come right after wallaroo.source(...)")
