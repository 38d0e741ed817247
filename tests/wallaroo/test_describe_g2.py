"""describe() on G2 build_application results."""

import struct
import sys
import types

import pytest

import wallaroo
from wallaroo import WallarooParameterError
from wallaroo.description import describe


def _decode(bs):
    return bs.decode()


def _encode(data):
    return (str(data) + "\n").encode()


def _double(data):
    return data * 2


def _split(data):
    return data.split()


def _key(data):
    return data[0]


class Counter(object):
    def __init__(self):
        self.n = 0


def _count(data, state):
    state.n += 1
    return state.n


decode = wallaroo.decoder(header_length=4, length_fmt=">I")(_decode)
encode = wallaroo.encoder(_encode)
double = wallaroo.computation(name="double")(_double)
split = wallaroo.computation_multi(name="split")(_split)
key = wallaroo.key_extractor(_key)
count = wallaroo.state_computation(name="count", state=Counter)(_count)

SINK = wallaroo.TCPSinkConfig("127.0.0.1", "7010", encode)


def _tcp_source(name, port, **extra):
    entry = {"kind": "tcp", "name": name, "host": "127.0.0.1", "port": port,
             "max_size": 16384, "parallelism": 10, "valid": True, "header_length": 4,
             "length_fmt": ">I", "decode": _decode, "event_time": None}
    entry.update(extra)
    return entry


SINK_ENTRY = {"kind": "tcp", "name": "sink 0", "host": "127.0.0.1", "port": 7010,
              "encode": _encode}


def _app(pipeline, name="app"):
    return describe(wallaroo.build_application(name, pipeline))


def test_linear():
    src = wallaroo.TCPSourceConfig("in", "127.0.0.1", "7000", decode, max_size=100,
                                   parallelism=2, valid=False)
    d = _app(wallaroo.source("Pipe", src).to(double).to(split).to_sink(SINK))
    assert d == {
        "app_name": "app",
        "sources": [_tcp_source("in", 7000, max_size=100, parallelism=2, valid=False)],
        "stages": [
            {"kind": "computation", "name": "double", "fn": _double, "multi": False},
            {"kind": "computation", "name": "split", "fn": _split, "multi": True},
        ],
        "sinks": [SINK_ENTRY],
        "flows": [{"source": 0, "stages": [0, 1], "sinks": [0]}],
        "serialize": None, "deserialize": None,
    }
    assert d["stages"][0]["fn"] is _double and d["sources"][0]["decode"] is _decode


def test_key_by_and_state():
    src = wallaroo.TCPSourceConfig("in", "127.0.0.1", 7000, decode)
    d = _app(wallaroo.source("P", src).key_by(key).to(count).to_sink(SINK))
    assert d["stages"] == [
        {"kind": "key_by", "name": "_key", "fn": _key, "int_as_chr": True},
        {"kind": "state", "name": "count", "fn": _count, "multi": False,
         "state_name": "count", "state_id": "count", "state_factory": Counter, "returns_persist": False},
    ]
    assert d["flows"] == [{"source": 0, "stages": [0, 1], "sinks": [0]}]


def test_collect_gets_a_constant_key_per_stage():
    src = wallaroo.TCPSourceConfig("in", "127.0.0.1", 7000, decode)
    d = _app(wallaroo.source("P", src).to(double).collect().to(count).collect().to_sink(SINK))
    assert d["stages"][1] == {"kind": "collect", "name": "collect", "key": "collect-key-1"}
    assert d["stages"][3] == {"kind": "collect", "name": "collect", "key": "collect-key-3"}
    assert d["flows"][0]["stages"] == [0, 1, 2, 3]


def test_merge_two_sources_shares_tail_stages():
    a = wallaroo.source("A", wallaroo.TCPSourceConfig("a", "127.0.0.1", 7000, decode)).to(double)
    b = wallaroo.source("B", wallaroo.TCPSourceConfig("b", "127.0.0.1", 7001, decode))
    p = a.merge(b).key_by(key).to(count).to_sinks([SINK, wallaroo.TCPSinkConfig("h", 9, encode)])
    d = _app(p, "merged")
    assert d["sources"] == [_tcp_source("a", 7000), _tcp_source("b", 7001)]
    assert [s["kind"] for s in d["stages"]] == ["computation", "key_by", "state"]
    assert d["sinks"] == [SINK_ENTRY, {"kind": "tcp", "name": "sink 1", "host": "h",
                                       "port": 9, "encode": _encode}]
    assert d["flows"] == [{"source": 0, "stages": [0, 1, 2], "sinks": [0, 1]},
                          {"source": 1, "stages": [1, 2], "sinks": [0, 1]}]


def test_nested_merges_flatten_to_one_flow_per_source():
    def src(n, port):
        return wallaroo.source(n, wallaroo.TCPSourceConfig(n, "127.0.0.1", port, decode))
    p = (src("a", 1).to(double).merge(src("b", 2)).to(split)
         .merge(src("c", 3).to(double).merge(src("d", 4))).to(double).to_sink(SINK))
    d = _app(p)
    assert [s["name"] for s in d["sources"]] == ["a", "b", "c", "d"]
    names = [s["name"] for s in d["stages"]]
    assert names == ["double", "split", "double", "double"]
    assert d["flows"] == [
        {"source": 0, "stages": [0, 1, 3], "sinks": [0]},
        {"source": 1, "stages": [1, 3], "sinks": [0]},
        {"source": 2, "stages": [2, 3], "sinks": [0]},
        {"source": 3, "stages": [3], "sinks": [0]},
    ]


class Gen(object):
    def initial_value(self):
        return 1

    def apply(self, v):
        return v + 1 if v < 3 else None


def test_gen_source_both_forms():
    g = Gen()
    d = _app(wallaroo.source("G", wallaroo.GenSourceConfig("gen", g)).to_sink(SINK))
    assert d["sources"] == [{"kind": "gen", "name": "gen", "initial_value": g.initial_value,
                             "apply": g.apply, "event_time": None}]
    assert d["sources"][0]["apply"].__self__ is g
    d_old = _app(wallaroo.source("G", wallaroo.GenSourceConfig(g)).to_sink(SINK))
    assert d_old["sources"][0]["name"] == "G"


def test_old_form_tcp_source_is_named_by_the_pipeline():
    d = _app(wallaroo.source("Pipe", wallaroo.TCPSourceConfig("127.0.0.1", 7000, decode))
             .to_sink(SINK))
    assert d["sources"] == [_tcp_source("Pipe", 7000)]


@pytest.mark.parametrize("fmt,header,normal", [
    ("!I", 4, ">I"), ("<H", 2, "<H"), (">b", 1, ">b"), (">Q", 8, ">Q"), (">L", 4, ">I"),
    ("=I", 4, "<I" if sys.byteorder == "little" else ">I"),
    ("I", 4, "<I" if sys.byteorder == "little" else ">I"),
    ("@q", 8, "<q" if sys.byteorder == "little" else ">q"),
    (">2xH", 4, ">2xH"), ("<xB2x", 4, "<xB2x"), (">xxI", 6, ">2xI"),
    ("@xI", 8, "<4xI" if sys.byteorder == "little" else ">4xI"),
])
def test_length_format_is_normalised(fmt, header, normal):
    dec = wallaroo.decoder(header_length=header, length_fmt=fmt)(_decode)
    d = _app(wallaroo.source("P", wallaroo.TCPSourceConfig("p", "h", 1, dec)).to_sink(SINK))
    assert (d["sources"][0]["header_length"], d["sources"][0]["length_fmt"]) == (header, normal)


def test_bad_ports_are_reported_with_where():
    src = wallaroo.TCPSourceConfig("in", "127.0.0.1", "http", decode)
    with pytest.raises(WallarooParameterError) as e:
        _app(wallaroo.source("P", src).to_sink(SINK))
    assert str(e.value) == ("pipeline 'P' (source 'in'): port must be an integer 0..65535, "
                            "got 'http'")
    ok = wallaroo.TCPSourceConfig("in", "127.0.0.1", 0, decode)
    with pytest.raises(WallarooParameterError) as e:
        _app(wallaroo.source("P", ok).to_sink(wallaroo.TCPSinkConfig("h", 70000, encode)))
    assert str(e.value) == ("pipeline 'P', stage 1 (to_sink) (sink 0): port must be an integer "
                            "1..65535, got 70000")


def test_state_computations_sharing_a_name_keep_their_own_states():
    class Other(object):
        pass
    other = wallaroo.state_computation(name="count", state=Other)(_count)
    src = wallaroo.TCPSourceConfig("in", "127.0.0.1", 7000, decode)
    d = _app(wallaroo.source("P", src).to(count).to(other).to_sink(SINK))
    assert [(s["state_name"], s["state_id"], s["state_factory"]) for s in d["stages"]] == [
        ("count", "count", Counter), ("count", "count (2)", Other)]


def test_same_state_computation_twice_has_two_states():
    src = wallaroo.TCPSourceConfig("in", "127.0.0.1", 7000, decode)
    d = _app(wallaroo.source("P", src).to(count).key_by(key).to(count).to(double).to(count)
             .to_sink(SINK))
    states = [(s["state_name"], s["state_id"]) for s in d["stages"] if s["kind"] == "state"]
    assert states == [("count", "count"), ("count", "count (2)"), ("count", "count (3)")]


def test_a_repeated_state_id_skips_names_already_taken():
    taken = wallaroo.state_computation(name="count (2)", state=Counter)(_count)
    src = wallaroo.TCPSourceConfig("in", "127.0.0.1", 7000, decode)
    d = _app(wallaroo.source("P", src).to(count).to(taken).to(count).to_sink(SINK))
    assert [s["state_id"] for s in d["stages"]] == ["count", "count (2)", "count (3)"]


def test_stages_after_a_merge_are_one_stage_with_one_state():
    a = wallaroo.TCPSourceConfig("a", "127.0.0.1", 7000, decode)
    b = wallaroo.TCPSourceConfig("b", "127.0.0.1", 7001, decode)
    d = _app(wallaroo.source("A", a).to(count).merge(wallaroo.source("B", b).to(count))
             .to(count).to_sink(SINK))
    assert [s["state_id"] for s in d["stages"]] == ["count", "count (2)", "count (3)"]
    assert d["flows"] == [{"source": 0, "stages": [0, 2], "sinks": [0]},
                          {"source": 1, "stages": [1, 2], "sinks": [0]}]


def _module(**attrs):
    m = types.ModuleType("app_module")
    m.__dict__.update(attrs)
    return m


def test_module_serializers_are_picked_up_only_as_a_pair():
    def ser(o):
        return b""

    def de(bs):
        return None
    result = wallaroo.build_application(
        "app", wallaroo.source("P", wallaroo.TCPSourceConfig("in", "h", 1, decode)).to_sink(SINK))
    d = describe(result, module=_module(serialize=ser, deserialize=de))
    assert d["serialize"] is ser and d["deserialize"] is de
    d = describe(result, module=_module(serialize=ser))
    assert (d["serialize"], d["deserialize"]) == (None, None)
    d = describe(result, module=_module(serialize=wallaroo.serialize,
                                        deserialize=wallaroo.deserialize))
    assert (d["serialize"], d["deserialize"]) == (None, None)
    d = describe(result, module=_module(serialize=ser, deserialize="not callable"))
    assert (d["serialize"], d["deserialize"]) == (None, None)


def test_wrong_results_get_hints():
    p = wallaroo.source("P", wallaroo.TCPSourceConfig("in", "h", 1, decode)).to_sink(SINK)
    with pytest.raises(WallarooParameterError) as e:
        describe(p)
    assert str(e.value) == (
        "application_setup must return wallaroo.build_application(...) or "
        "ApplicationBuilder.build(), got 'Pipeline' (did you forget "
        "wallaroo.build_application(app_name, pipeline)?)")
    with pytest.raises(WallarooParameterError) as e:
        describe(wallaroo.ApplicationBuilder("x"))
    assert str(e.value).endswith("got 'ApplicationBuilder' (did you forget to call .build()?)")
    with pytest.raises(WallarooParameterError) as e:
        describe(None)
    assert str(e.value).endswith("got 'NoneType'")


def test_hand_made_tree_errors():
    src = ("source", "P", wallaroo.TCPSourceConfig("in", "h", 1, decode).to_tuple())
    with pytest.raises(WallarooParameterError) as e:
        describe(("app", 0, [[src, ("to", double)]], [[]]))
    assert str(e.value) == "An application must end with to_sink/s."
    with pytest.raises(WallarooParameterError) as e:
        describe(("app", 0, [[src, ("to_sink", SINK.to_tuple()), ("to", double)]], [[]]))
    assert str(e.value) == "pipeline 'P', stage 1 (to_sink): You can't add stages after to_sink/s."
    with pytest.raises(WallarooParameterError) as e:
        describe(("app", 0, [[("to", double)]], [[]]))
    assert str(e.value) == "build_application result: leaf node 0 must start with a source"
    with pytest.raises(WallarooParameterError) as e:
        describe(("app", 0, [[], [src]], [[1], []]))
    assert str(e.value) == "build_application result: merge node 0 must have 2 children, has 1"
    with pytest.raises(WallarooParameterError) as e:
        describe(("app", 0, [[src, ("shuffle",), ("to_sink", SINK.to_tuple())]], [[]]))
    assert str(e.value) == "pipeline 'P', stage 1 (shuffle): unknown stage kind 'shuffle'"


def test_g0_style_decoder_class_byte_order_is_probed():
    class LittleDecoder(object):
        def header_length(self):
            return 4

        def payload_length(self, bs):
            return struct.unpack("<I", bs)[0]

        def decode(self, bs):
            return bs

    inst = LittleDecoder()
    d = _app(wallaroo.source("P", wallaroo.TCPSourceConfig("p", "h", 1, inst)).to_sink(SINK))
    assert d["sources"][0]["length_fmt"] == "<I"
    assert d["sources"][0]["decode"] == inst.decode

    class OddDecoder(LittleDecoder):
        def header_length(self):
            return 3
    with pytest.raises(WallarooParameterError) as e:
        _app(wallaroo.source("P", wallaroo.TCPSourceConfig("p", "h", 1, OddDecoder()))
             .to_sink(SINK))
    assert str(e.value) == ("pipeline 'P' (source 'p'): decoder header_length() returned 3; "
                            "Roo supports 1, 2, 4 or 8")

    class ConstDecoder(LittleDecoder):
        def payload_length(self, bs):
            return 10
    with pytest.raises(WallarooParameterError) as e:
        _app(wallaroo.source("P", wallaroo.TCPSourceConfig("p", "h", 1, ConstDecoder()))
             .to_sink(SINK))
    assert str(e.value) == (
        "pipeline 'P' (source 'p'): decoder payload_length() must read the header as one "
        "unsigned integer (big or little endian); payload_length(b'\\x01\\x02\\x03\\x04') "
        "returned 10")
