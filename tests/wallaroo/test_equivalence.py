"""The same app written with G2 and with G1 yields the same description."""

import wallaroo
from wallaroo.description import describe


def _normalise(value, drop=()):
    """Replace callables by a marker and drop generation-specific keys."""
    if isinstance(value, dict):
        return {k: _normalise(v, drop) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [_normalise(v, drop) for v in value]
    if callable(value):
        return "<callable>"
    return value


def _decode(bs):
    return bs.decode()


def _encode(data):
    return data.encode()


def _upper(data):
    return data.upper()


def _words(data):
    return data.split()


def test_stateless_app_is_identical():
    decode = wallaroo.decoder(header_length=4, length_fmt=">I")(_decode)
    encode = wallaroo.encoder(_encode)
    upper = wallaroo.computation(name="upper")(_upper)
    words = wallaroo.computation_multi(name="words")(_words)

    g2 = wallaroo.build_application("Words", wallaroo.source(
        "Text", wallaroo.TCPSourceConfig("text", "127.0.0.1", 7000, decode))
        .to(upper).to(words)
        .to_sinks([wallaroo.TCPSinkConfig("127.0.0.1", 7002, encode),
                   wallaroo.TCPSinkConfig("127.0.0.1", 7003, encode)]))
    ab = wallaroo.ApplicationBuilder("Words")
    ab.new_pipeline("text", wallaroo.TCPSourceConfig("127.0.0.1", 7000, decode))
    ab.to(upper).to_parallel(words)
    ab.to_sinks([wallaroo.TCPSinkConfig("127.0.0.1", 7002, encode),
                 wallaroo.TCPSinkConfig("127.0.0.1", 7003, encode)])
    g1 = ab.build()

    d2, d1 = describe(g2), describe(g1)
    assert d2 == d1  # identical, callables included (both are the raw functions)
    assert _normalise(d2)["stages"] == [
        {"kind": "computation", "name": "upper", "fn": "<callable>", "multi": False},
        {"kind": "computation", "name": "words", "fn": "<callable>", "multi": True}]


class WordCount(object):
    def __init__(self):
        self.count = 0


def _first_letter(data):
    return data[0]


def _count_g2(data, state):
    state.count += 1
    return "{0}:{1}".format(data, state.count)


def _count_g1(data, state):
    state.count += 1
    return ("{0}:{1}".format(data, state.count), True)


def test_keyed_state_app_matches_except_generation_specific_flags():
    decode = wallaroo.decoder(header_length=4, length_fmt=">I")(_decode)
    encode = wallaroo.encoder(_encode)
    upper = wallaroo.computation(name="upper")(_upper)
    words = wallaroo.computation_multi(name="words")(_words)
    key = wallaroo.key_extractor(_first_letter)
    part = wallaroo.partition(_first_letter)
    count_g2 = wallaroo.state_computation(name="count", state=WordCount)(_count_g2)
    count_g1 = wallaroo.state_computation(name="count")(_count_g1)
    sink = wallaroo.TCPSinkConfig("127.0.0.1", 7002, encode)

    g2 = wallaroo.build_application("Count", wallaroo.source(
        "Text", wallaroo.TCPSourceConfig("text", "127.0.0.1", 7000, decode))
        .to(upper).to(words).key_by(key).to(count_g2).to_sink(sink))
    ab = wallaroo.ApplicationBuilder("Count")
    ab.new_pipeline("text", wallaroo.TCPSourceConfig("127.0.0.1", 7000, decode))
    ab.to(upper).to_parallel(words)
    ab.to_state_partition(count_g1, WordCount, "count", part)
    ab.to_sink(sink)

    d2, d1 = describe(g2), describe(ab.build())
    # G2 key extractors turn int keys into chr(); G1 state computations return
    # (output, persist). Everything else must match exactly.
    drop = ("int_as_chr", "returns_persist")
    assert _normalise(d2, drop) == _normalise(d1, drop)
    assert (d2["stages"][2]["int_as_chr"], d1["stages"][2]["int_as_chr"]) == (True, False)
    assert (d2["stages"][3]["returns_persist"], d1["stages"][3]["returns_persist"]) == (False, True)
    assert d2["stages"][3]["state_factory"] is d1["stages"][3]["state_factory"] is WordCount
    assert d2["stages"][2]["fn"] is d1["stages"][2]["fn"] is _first_letter
    assert d2["flows"] == d1["flows"] == [{"source": 0, "stages": [0, 1, 2, 3], "sinks": [0]}]
