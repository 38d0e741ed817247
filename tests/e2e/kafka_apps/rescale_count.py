"""Kafka -> count per key with an order check -> TCP, for growing and shrinking a cluster that reads Kafka
(tests/e2e/test_rescale_kafka.py). cluster_apps/key_count.py's count, with a Kafka source instead of a TCP one.

Input messages have a key ("k<i>") and a value: that key's sequence number (0, 1, 2, ... per key, as text). The
stream is keyed by the message key (the decoder takes it: decode(value, key)); the state stage "counts" keeps per
key the last sequence number seen and the number of messages counted. Output (the --out TCP sink), one line per
message:

    <key>,<count>,<worker>                      the number follows the key's last one: counted (count == n + 1)
    GAP <key> <expected> <got> <worker>         it does not (a message lost, or a repeat): not counted

so with nothing lost, repeated or reordered a key's lines carry the counts 1..n exactly once and none is a GAP line
(test_rescale.py's oracle, assert_exact_counts), and <worker> (this worker's --name, "initializer" without one)
shows where the key's state was at that message.

Flags: the Wallaroo Kafka source flags (--kafka_source_topic, --kafka_source_brokers, ...), --out, and
  --group G               the consumer group (default: the runtime's)
  --kafka-out             the lines go to a Kafka sink instead (the Wallaroo Kafka sink flags: --kafka_sink_topic,
                          --kafka_sink_brokers, ...), each under its key as the Kafka key, without the newline
  --connector-out PORT    the lines go to a connector sink "results" instead (wallaroo.experimental.SinkConnectorConfig
                          on 127.0.0.1:PORT, cookie "cookie"), one record per line, with its newline
  --slow-restore-ms D     restoring a key's state on the worker it moves to (unpickling it in a rescale) sleeps D ms,
                          and the first restore of the process logs `key_count: restoring state` on stderr: a
                          test can then kill a worker in the middle of a migration
  --slow-save-ms D, --slow-save-while PATH   pickling a key's state sleeps D ms (while PATH exists), the first of a
                          hand-over logging `key_count: saving state`: a kill then lands in the middle of a migration

The state, the order check and the output are key_count's own (imported from ../cluster_apps).
"""
import argparse
import os
import sys

import wallaroo
import wallaroo.experimental as experimental

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster_apps"))
import key_count  # noqa: E402  (the state class, the count with its order check, the encoder)


def application_setup(args):
    parser = argparse.ArgumentParser(prog="rescale_count")
    parser.add_argument("--group", default=None)
    parser.add_argument("--slow-restore-ms", type=float, default=0.0)
    parser.add_argument("--slow-save-ms", type=float, default=0.0)
    parser.add_argument("--slow-save-while", default=None)
    parser.add_argument("--kafka-out", action="store_true")
    parser.add_argument("--connector-out", type=int, default=None)
    opts, _ = parser.parse_known_args(args)
    key_count.SLOW_RESTORE_S = opts.slow_restore_ms / 1000.0
    key_count.slow_saves(opts)
    key_count.WORKER = key_count.worker_name()
    options = {"group": opts.group} if opts.group else {}
    source = wallaroo.CustomKafkaSourceCLIParser(args, decode, **options)
    if opts.kafka_out:
        sink = wallaroo.CustomKafkaSinkCLIParser(args, encode_kafka)
    elif opts.connector_out is not None:
        sink = experimental.SinkConnectorConfig("results", encoder=encode_connector, decoder=decode_connector,
                                                port=opts.connector_out, cookie="cookie", host="127.0.0.1")
    else:
        out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
        sink = wallaroo.TCPSinkConfig(out_host, out_port, key_count.encode)
    pipeline = (wallaroo.source("Counts", source)
                .key_by(key_count.key_of)
                .to(key_count.count)
                .to_sink(sink))
    return wallaroo.build_application("Kafka rescale count", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(value, key):
    return (key.decode(), int(value))


@wallaroo.encoder
def encode_kafka(line):
    key = line.split()[1] if line.startswith("GAP ") else line.split(",")[0]
    return (line.encode("utf-8"), key.encode("utf-8"))


@experimental.octet_message_encoder
def encode_connector(line):
    return (line + "\n").encode("utf-8")


@experimental.octet_message_decoder
def decode_connector(payload):
    return payload.decode("utf-8")
