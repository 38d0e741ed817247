"""Kafka -> keyed sequence check -> Kafka with Roo's own Kafka options, for tests/e2e/test_kafka.py.

The same check as keyed_count.py (messages keyed "k<i>" carry that key's sequence number n as text; the output is
"key,n", or "GAP key expected got"), declared with CustomKafka*CLIParser plus Roo's keyword options, and with a
choice of encoder shape and a decoder that can refuse messages. Flags (besides the Wallaroo Kafka flags):
  --topics A,B        more source topics (topics=[...])
  --group G           the consumer group (group=)
  --start S           earliest or latest (start=)
  --partitioner P     the sink's partitioner (partitioner=)
  --encoder E         the encoder's shape:
                        pair   (value, key)                                (default)
                        full   (value, key, partition, headers): partition n % --sink-partitions, headers
                               [("key", key), ("n", n)]
                        bytes  the value only (no key)
  --sink-partitions N for --encoder full (default 1)
  --slow-ms M         the state computation sleeps M ms per message
  --slow-while PATH   ... but only while the file PATH exists
A value may carry padding after a space ("12 xxxx..."). A message whose value starts with "bad" makes the decoder
raise ValueError.
"""
import argparse
import os
import time

import wallaroo

OPTS = None


def application_setup(args):
    global OPTS
    parser = argparse.ArgumentParser(prog="options_count")
    parser.add_argument("--topics", default=None)
    parser.add_argument("--group", default=None)
    parser.add_argument("--start", default=None)
    parser.add_argument("--partitioner", default=None)
    parser.add_argument("--encoder", default="pair", choices=("pair", "full", "bytes"))
    parser.add_argument("--sink-partitions", type=int, default=1)
    parser.add_argument("--slow-ms", type=float, default=0.0)
    parser.add_argument("--slow-while", default=None)
    OPTS, _ = parser.parse_known_args(args)
    source_options = {}
    if OPTS.topics:
        source_options["topics"] = OPTS.topics.split(",")
    if OPTS.group:
        source_options["group"] = OPTS.group
    if OPTS.start:
        source_options["start"] = OPTS.start
    sink_options = {"partitioner": OPTS.partitioner} if OPTS.partitioner else {}
    source = wallaroo.CustomKafkaSourceCLIParser(args, decode, **source_options)
    sink = wallaroo.CustomKafkaSinkCLIParser(args, ENCODERS[OPTS.encoder], **sink_options)
    pipeline = wallaroo.source("Counts", source).key_by(by_key).to(check).to_sink(sink)
    return wallaroo.build_application("Kafka options count", pipeline)


class LastSeen(object):
    def __init__(self):
        self.n = -1


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(value, key):
    if value.startswith(b"bad"):
        raise ValueError("refusing %s" % value.decode())
    return (key.decode(), int(value.split(b" ", 1)[0]))


@wallaroo.key_extractor
def by_key(event):
    return event[0]


@wallaroo.state_computation(name="check", state=LastSeen)
def check(event, state):
    key, n = event
    if OPTS.slow_ms and (OPTS.slow_while is None or os.path.exists(OPTS.slow_while)):
        time.sleep(OPTS.slow_ms / 1000.0)
    if n != state.n + 1:
        line = "GAP %s %d %d" % (key, state.n + 1, n)
    else:
        line = "%s,%d" % (key, n)
    state.n = n
    return (key, line, n)


@wallaroo.encoder
def encode_pair(result):
    key, line, _n = result
    return (line.encode(), key.encode())


@wallaroo.encoder
def encode_full(result):
    key, line, n = result
    return (line.encode(), key.encode(), n % OPTS.sink_partitions, [("key", key.encode()), ("n", str(n).encode())])


@wallaroo.encoder
def encode_bytes(result):
    return result[1].encode()


ENCODERS = {"pair": encode_pair, "full": encode_full, "bytes": encode_bytes}
