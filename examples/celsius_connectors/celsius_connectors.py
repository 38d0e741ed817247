"""Celsius with connectors: Wallaroo's connector example on Roo.

A connector source named "readings" (port 7100) takes binary Celsius readings (`f64 BE`) from connector processes;
one stateless computation converts each to Fahrenheit; a connector sink named "conversions" (a connector process
listening on port 7200) receives one text line per reading (newline included), "<celsius> C = <fahrenheit> F" with two decimals.
The connectors are separate processes (README.md):

    roo connector file-sink --application-module celsius_connectors --connector conversions \
        --conversions-path conversions.txt
    roo run celsius_connectors.py
    roo connector file-source --application-module celsius_connectors --connector readings \
        --readings-path ../celsius/celsius.msg

Flags (optional): --source-port P (7100), --sink-port Q (7200), --cookie C (celsius).
"""
import argparse
import struct

import wallaroo
import wallaroo.experimental as experimental


def application_setup(args):
    parser = argparse.ArgumentParser(prog="celsius_connectors")
    parser.add_argument("--source-port", type=int, default=7100)
    parser.add_argument("--sink-port", type=int, default=7200)
    parser.add_argument("--cookie", default="celsius")
    opts, _ = parser.parse_known_args(args)
    readings = experimental.SourceConnectorConfig(
        "readings", encoder=encode_reading, decoder=decode_reading, port=opts.source_port, cookie=opts.cookie,
        max_credits=1000, refill_credits=500)
    conversions = experimental.SinkConnectorConfig(
        "conversions", encoder=encode_conversion, decoder=decode_conversion, port=opts.sink_port,
        cookie=opts.cookie)
    pipeline = wallaroo.source("Celsius readings", readings).to(to_fahrenheit).to_sink(conversions)
    return wallaroo.build_application("Celsius to Fahrenheit with connectors", pipeline)


@experimental.stream_message_decoder
def decode_reading(payload):
    return struct.unpack(">d", payload)[0]


@experimental.stream_message_encoder
def encode_reading(celsius):
    return struct.pack(">d", celsius)


@wallaroo.computation("to fahrenheit")
def to_fahrenheit(celsius):
    return (celsius, celsius * 9.0 / 5.0 + 32.0)


@experimental.octet_message_encoder
def encode_conversion(conversion):
    return ("%.2f C = %.2f F\n" % conversion).encode("ascii")


@experimental.octet_message_decoder
def decode_conversion(payload):
    return payload  # the sink connector writes the line's bytes as they are
