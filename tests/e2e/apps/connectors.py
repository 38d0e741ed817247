"""Test app: wallaroo.experimental connectors.

`--use source`: a connector source named "events" on port 7100 (docs/connectors.md).
`--use sink`: a TCP source (--in) into a connector sink named "results" at 127.0.0.1:7200.
`--use none` (default): imports wallaroo.experimental and decorates with its codecs, but runs over TCP only:
every frame's text comes out upper-cased as a line.
"""
import argparse

import wallaroo
import wallaroo.experimental as experimental


@experimental.stream_message_decoder
def decode_event(payload):
    return payload.decode("utf-8")


@experimental.octet_message_encoder
def encode_result(text):
    return text.encode("utf-8")


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_text(payload):
    return payload.decode("utf-8")


@wallaroo.computation("upper")
def upper(text):
    return text.upper()


@wallaroo.encoder
def encode_line(text):
    return (text + "\n").encode("utf-8")


def application_setup(args):
    parser = argparse.ArgumentParser(prog="connectors")
    parser.add_argument("--use", choices=["none", "source", "sink"], default="none")
    use = parser.parse_known_args(args)[0].use
    if use == "source":
        source = wallaroo.source("Events", experimental.SourceConnectorConfig(
            "events", encoder=encode_result, decoder=decode_event, port=7100, cookie="cookie",
            max_credits=10, refill_credits=8))
    else:
        (name, host, port), = wallaroo.tcp_parse_input_addrs(args)
        source = wallaroo.source(name, wallaroo.TCPSourceConfig(name, host, port, decode_text))
    if use == "sink":
        sink = experimental.SinkConnectorConfig("results", encoder=encode_result, decoder=decode_event,
                                                port=7200, cookie="cookie")
    else:
        (out_host, out_port), = wallaroo.tcp_parse_output_addrs(args)
        sink = wallaroo.TCPSinkConfig(out_host, out_port, encode_line)
    return wallaroo.build_application("Connectors", source.to(upper).to_sink(sink))
