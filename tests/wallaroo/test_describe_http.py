"""describe() on Bruco mode's HTTP source and reply sink (wallaroo._bruco_io), and the reply record encoding."""

import struct

import pytest

import wallaroo
from wallaroo import WallarooParameterError
from wallaroo._bruco_io import HttpReplySinkConfig, HttpSourceConfig, encode_reply, split_request
from wallaroo.description import describe

decode = wallaroo.decoder(header_length=4, length_fmt=">I")(split_request)
encode = wallaroo.encoder(lambda reply: encode_reply(*reply))
upper = wallaroo.computation("upper")(lambda request: (request[0], request[1].upper()))


def _describe(source_config, sink_config):
    p = wallaroo.source("web", source_config).to(upper).to_sink(sink_config)
    return describe(wallaroo.build_application("app", p))


def test_http_source_and_reply_sink_entries():
    d = _describe(HttpSourceConfig("web", "0.0.0.0", 8080, decode, max_body_bytes=100),
                  HttpReplySinkConfig("web", encode))
    source = dict(d["sources"][0])
    assert callable(source.pop("decode"))
    assert source == {"kind": "http", "name": "web", "host": "0.0.0.0", "port": 8080,
                      "ignore_response": False, "max_body_bytes": 100, "event_time": None}
    sink = dict(d["sinks"][0])
    assert callable(sink.pop("encode"))
    assert sink == {"kind": "http_reply", "name": "sink 0", "source": "web"}


@pytest.mark.parametrize("config, message", [
    (HttpSourceConfig("web", "h", 70000, decode),
     "pipeline 'web' (source 'web'): port must be an integer 0..65535, got 70000"),
    (HttpSourceConfig("web", "h", 80, decode, ignore_response="yes"),
     "pipeline 'web' (source 'web'): ignore_response must be True or False, got 'yes'"),
    (HttpSourceConfig("web", "h", 80, decode, max_body_bytes=0),
     "pipeline 'web' (source 'web'): max_body_bytes must be an integer 1..1073741824, got 0"),
])
def test_bad_http_source_settings_are_named(config, message):
    with pytest.raises(WallarooParameterError) as raised:
        _describe(config, HttpReplySinkConfig("web", encode))
    assert str(raised.value) == message


def test_a_reply_sink_needs_its_source_name():
    with pytest.raises(WallarooParameterError) as raised:
        _describe(HttpSourceConfig("web", "h", 80, decode), HttpReplySinkConfig("", encode))
    assert str(raised.value) == ("pipeline 'web', stage 2 (to_sink) (sink 0): HttpReplySinkConfig needs the name of "
                                 "its HTTP source, got ''")


def test_reply_records_and_request_frames():
    record = encode_reply(7, "HÉ", 201, "application/json")
    assert record == struct.pack(">IQHH", 12 + 16 + 3, 7, 201, 16) + b"application/json" + "HÉ".encode()
    assert split_request(struct.pack(">Q", 9) + b"body") == (9, b"body")
    with pytest.raises(WallarooParameterError):
        split_request(b"short")


def test_a_discard_sink_entry_keeps_its_encoder():
    from wallaroo._discard_sink import DiscardSinkConfig
    d = _describe(HttpSourceConfig("web", "0.0.0.0", 8080, decode, ignore_response=True), DiscardSinkConfig(encode))
    sink = dict(d["sinks"][0])
    assert sink.pop("encode") is encode._roo_fn
    assert sink == {"kind": "discard", "name": "sink 0"}
