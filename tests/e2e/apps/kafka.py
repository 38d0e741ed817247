"""Test app: Kafka sources and sinks are described, then refused at start until the runtime runs them.

`--use source`: a Kafka source "Readings" (--kafka_source_topic, --kafka_source_brokers) into a TCP sink (--out).
`--use sink`: a TCP source (--in) into a Kafka sink (--results_topic, --results_brokers).
"""
import argparse

import wallaroo


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_text(payload):
    return payload.decode("utf-8")


@wallaroo.encoder
def encode_line(text):
    return (text + "\n").encode("utf-8")


def application_setup(args):
    parser = argparse.ArgumentParser(prog="kafka")
    parser.add_argument("--use", choices=["source", "sink"], required=True)
    use = parser.parse_known_args(args)[0].use
    if use == "source":
        source = wallaroo.source("Readings", wallaroo.DefaultKafkaSourceCLIParser(decode_text))
        (out_host, out_port), = wallaroo.tcp_parse_output_addrs(args)
        sink = wallaroo.TCPSinkConfig(out_host, out_port, encode_line)
    else:
        (name, host, port), = wallaroo.tcp_parse_input_addrs(args)
        source = wallaroo.source(name, wallaroo.TCPSourceConfig(name, host, port, decode_text))
        sink = wallaroo.DefaultKafkaSinkCLIParser(encode_line, name="results")
    return wallaroo.build_application("Kafka", source.to_sink(sink))
