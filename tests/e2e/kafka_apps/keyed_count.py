"""Kafka -> keyed sequence check -> Kafka, for the Kafka end-to-end tests (tests/e2e/test_kafka*.py).

Input messages have a key ("k<i>") and a value: that key's sequence number n (0, 1, 2, ... per key, as text). The
stream is keyed by the message key (the decoder takes it: decode(value, key)); each key's state is the last n it
saw. For every message the app outputs "key,n" with the key as the Kafka key, or "GAP key expected got" when n does
not follow the key's last one (a message lost, or counted twice, in state). So, from a read_committed consumer of
the output topic, exactly-once means: every (key, n) exactly once, in order per key, and no GAP line.

Flags: the Wallaroo Kafka flags (--kafka_source_topic, --kafka_source_brokers, --kafka_sink_topic,
--kafka_sink_brokers, ...), and
  --form NAME     how the source and sink are declared: custom (CustomKafka*CLIParser, default), config
                  (KafkaSourceConfig / KafkaSinkConfig), default (DefaultKafka*CLIParser) or g1 (ApplicationBuilder)
  --slow-ms M     the state computation sleeps M ms per message (a run lasts a while; kills land mid-stream)
  --group G       the consumer group (default: the runtime's)
"""
import argparse
import time

import wallaroo

OPTS = None


def application_setup(args):
    global OPTS
    parser = argparse.ArgumentParser(prog="keyed_count")
    parser.add_argument("--form", default="custom", choices=("custom", "config", "default", "g1"))
    parser.add_argument("--slow-ms", type=float, default=0.0)
    parser.add_argument("--group", default=None)
    OPTS, _ = parser.parse_known_args(args)
    options = {"group": OPTS.group} if OPTS.group else {}
    if OPTS.form == "config":
        topic, brokers, level = wallaroo.kafka_parse_source_options(args)[1:]
        sink_options = wallaroo.kafka_parse_sink_options(args)
        source = wallaroo.KafkaSourceConfig(topic, brokers, level, decode, **options)
        sink = wallaroo.KafkaSinkConfig(sink_options[1], sink_options[2], sink_options[3], sink_options[4],
                                        sink_options[5], encode)
    elif OPTS.form == "default":
        source = wallaroo.DefaultKafkaSourceCLIParser(decode, name="kafka_source", **options)
        sink = wallaroo.DefaultKafkaSinkCLIParser(encode, name="kafka_sink")
    else:
        source = wallaroo.CustomKafkaSourceCLIParser(args, decode, **options)
        sink = wallaroo.CustomKafkaSinkCLIParser(args, encode)
    if OPTS.form == "g1":
        ab = wallaroo.ApplicationBuilder("Kafka keyed count")
        ab.new_pipeline("Counts", source)
        ab.to_state_partition(check_g1, LastSeen, "last seen", by_key_g1)
        ab.to_sink(sink)
        return ab.build()
    pipeline = wallaroo.source("Counts", source).key_by(by_key).to(check).to_sink(sink)
    return wallaroo.build_application("Kafka keyed count", pipeline)


class LastSeen(object):
    def __init__(self):
        self.n = -1


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(value, key):
    return (key.decode(), int(value))


@wallaroo.key_extractor
def by_key(event):
    return event[0]


@wallaroo.partition
def by_key_g1(event):
    return event[0]


def _check(event, state):
    key, n = event
    if OPTS.slow_ms:
        time.sleep(OPTS.slow_ms / 1000.0)
    if n != state.n + 1:
        line = "GAP %s %d %d" % (key, state.n + 1, n)
    else:
        line = "%s,%d" % (key, n)
    state.n = n
    return (key, line)


@wallaroo.state_computation(name="check", state=LastSeen)
def check(event, state):
    return _check(event, state)


@wallaroo.state_computation(name="check g1")
def check_g1(event, state):
    return (_check(event, state), True)


@wallaroo.encoder
def encode(result):
    key, line = result
    return (line.encode(), key.encode())
