"""What the runtime does, in Python: import an app file, set _ARGS, call
application_setup(args), describe it, then push frames through the description."""

import importlib.util
import struct
import sys
import textwrap

import pytest

import wallaroo
from wallaroo.description import describe

APP = textwrap.dedent('''
    import pickle
    import struct
    import wallaroo

    SEEN_ARGS = []

    def application_setup(args):
        SEEN_ARGS.append((tuple(args), wallaroo._ARGS))
        (name, host, port), = wallaroo.tcp_parse_input_addrs(args)
        (out_host, out_port), = wallaroo.tcp_parse_output_addrs(args)
        words = wallaroo.source("Split and Count", wallaroo.TCPSourceConfig(
            name, host, port, decode_lines))
        return wallaroo.build_application("Word Count", words
            .to(split).key_by(first_letter).to(count_word)
            .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_count)))

    @wallaroo.decoder(header_length=4, length_fmt=">I")
    def decode_lines(bs):
        return bs.decode("utf-8")

    @wallaroo.computation_multi(name="split")
    def split(text):
        return [w for w in text.lower().split() if w] or None

    @wallaroo.key_extractor
    def first_letter(word):
        return word[0]

    class WordTotals(object):
        def __init__(self):
            self.totals = {}

    @wallaroo.state_computation(name="count word", state=WordTotals)
    def count_word(word, state):
        state.totals[word] = state.totals.get(word, 0) + 1
        return (word, state.totals[word])

    @wallaroo.encoder
    def encode_count(pair):
        return "{0} => {1}\\n".format(*pair).encode()

    def serialize(o):
        return b"custom" + pickle.dumps(o)

    def deserialize(bs):
        return pickle.loads(bs[len(b"custom"):])
''')


@pytest.fixture
def app_module(tmp_path):
    path = tmp_path / "word_count_app.py"
    path.write_text(APP)
    spec = importlib.util.spec_from_file_location("word_count_app", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["word_count_app"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["word_count_app"]
    wallaroo._ARGS = None


def _run(desc, frames):
    """A minimal single-worker interpreter of the description."""
    source = desc["sources"][0]
    flow = desc["flows"][0]
    tables = {}
    out = []
    for frame in frames:
        header, payload = frame[:source["header_length"]], frame[source["header_length"]:]
        assert struct.unpack(source["length_fmt"], header)[0] == len(payload)
        messages = [(source["decode"](payload), "tcp-source-key")]
        for stage_id in flow["stages"]:
            stage = desc["stages"][stage_id]
            nxt = []
            for data, key in messages:
                if stage["kind"] == "computation":
                    r = stage["fn"](data)
                    nxt.extend((x, key) for x in ((r or []) if stage["multi"] else
                                                  ([] if r is None else [r])) if x is not None)
                elif stage["kind"] == "key_by":
                    k = stage["fn"](data)
                    nxt.append((data, chr(k) if stage["int_as_chr"] and isinstance(k, int) else k))
                elif stage["kind"] == "state":
                    table = tables.setdefault(stage["state_id"], {})
                    if key not in table:
                        table[key] = stage["state_factory"]()
                    state = table[key]
                    r = stage["fn"](data, state)
                    if stage["returns_persist"]:
                        r = r[0]
                    if r is not None:
                        nxt.append((r, key))
            messages = nxt
        for data, _ in messages:
            for sink_id in flow["sinks"]:
                out.append((desc["sinks"][sink_id]["port"], desc["sinks"][sink_id]["encode"](data)))
    return out, tables


def test_app_file_through_describe_and_a_mini_runtime(app_module):
    argv = ("roo", "run", "--application-module", "word_count_app",
            "--in", "words@127.0.0.1:7010", "--out", "127.0.0.1:7002", "--name", "w1")
    wallaroo._ARGS = argv
    args = [a for a in argv if a not in ("--application-module", "word_count_app")]
    desc = describe(app_module.application_setup(args), module=app_module)
    assert app_module.SEEN_ARGS == [(tuple(args), argv)]
    assert desc["app_name"] == "Word Count"
    assert (desc["sources"][0]["name"], desc["sources"][0]["port"]) == ("words", 7010)
    assert desc["serialize"] is app_module.serialize
    assert desc["deserialize"](desc["serialize"]({"x": 1})) == {"x": 1}

    frames = [struct.pack(">I", len(t)) + t for t in (b"Apple ant", b"", b"apple bee")]
    out, tables = _run(desc, frames)
    assert out == [(7002, b"apple => 1\n"), (7002, b"ant => 1\n"), (7002, b"apple => 2\n"),
                   (7002, b"bee => 1\n")]
    assert sorted(tables["count word"]) == ["a", "b"]
    assert tables["count word"]["a"].totals == {"apple": 2, "ant": 1}
