"""describe() on NATS sources and sinks (wallaroo._bruco_io_nats): the entries, and the exact error for each bad
input."""

import pytest

import wallaroo
from wallaroo import WallarooParameterError
from wallaroo._bruco_io_nats import NatsSinkConfig, NatsSourceConfig
from wallaroo.description import describe


def _decode(value):
    return value.decode()


def _encode(data):
    return data.encode()


upper = wallaroo.computation("upper")(lambda data: data.upper())
URL = "nats://127.0.0.1:4222"


def _describe(source, sink):
    return describe(wallaroo.build_application("app", wallaroo.source("N", source).to(upper).to_sink(sink)))


def test_entries_of_a_nats_source_and_sink():
    d = _describe(NatsSourceConfig("words", URL, "in.*", _decode, queue_group="g"), NatsSinkConfig(URL, "out", _encode))
    assert d["sources"] == [{"kind": "nats", "name": "words", "server_url": URL, "subject": "in.*",
                             "queue_group": "g", "decode": _decode, "event_time": None}]
    assert d["sinks"] == [{"kind": "nats", "name": "sink 0", "server_url": URL, "subject": "out", "encode": _encode}]


def test_decorated_decoders_and_encoders_are_unwrapped_and_no_group_is_none():
    d = _describe(NatsSourceConfig("words", URL, "in.>", wallaroo.decoder(header_length=4, length_fmt=">I")(_decode)),
                  NatsSinkConfig(URL, "out", wallaroo.encoder(_encode)))
    assert d["sources"][0]["decode"] is _decode and d["sources"][0]["queue_group"] is None
    assert d["sinks"][0]["encode"] is _encode


@pytest.mark.parametrize("source,sink,error", [
    (NatsSourceConfig("words", "http://x:1", "in", _decode), NatsSinkConfig(URL, "out", _encode),
     "pipeline 'N' (source 'words'): server_url must be a NATS URL like 'nats://127.0.0.1:4222', got 'http://x:1'"),
    (NatsSourceConfig("words", URL, "in..x", _decode), NatsSinkConfig(URL, "out", _encode),
     "pipeline 'N' (source 'words'): 'in..x' is not a NATS subject (tokens of non-space characters separated by "
     "'.'; '*' stands for one token, a final '>' for the rest)"),
    (NatsSourceConfig("words", URL, "in", _decode, queue_group="a b"), NatsSinkConfig(URL, "out", _encode),
     "pipeline 'N' (source 'words'): queue_group must be None or a name without spaces, got 'a b'"),
    (NatsSourceConfig("words", URL, "in", lambda value, key: value), NatsSinkConfig(URL, "out", _encode),
     "takes (value, key), but a NATS message has no key: take (value)"),
    (NatsSourceConfig("words", URL, "in", _decode), NatsSinkConfig(URL, "out.*", _encode),
     "pipeline 'N', stage 2 (to_sink) (sink 0): 'out.*' is not a NATS subject to publish to (tokens of non-space "
     "characters separated by '.', no wildcards)"),
    (NatsSourceConfig("words", URL, "in", _decode), NatsSinkConfig(URL, "out", 42),
     "pipeline 'N', stage 2 (to_sink) (sink 0) encoder: expected a function or an object with encode(), got 42"),
])
def test_bad_settings_name_the_source_or_sink_and_what_is_allowed(source, sink, error):
    with pytest.raises(WallarooParameterError) as raised:
        _describe(source, sink)
    assert error in str(raised.value)
