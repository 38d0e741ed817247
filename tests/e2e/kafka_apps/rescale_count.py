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
  --slow-restore-ms D     restoring a key's state on the worker it moves to (unpickling it in a rescale) sleeps D ms,
                          and the first restore of the process logs `rescale_count: restoring state` on stderr: a
                          test can then kill a worker in the middle of a migration
"""
import argparse
import sys
import time

import wallaroo

SLOW_RESTORE_S = 0.0
_announced = []
WORKER = "initializer"


def worker_name():
    """This worker's --name: from the full command line, since `args` holds only the application's arguments."""
    args = wallaroo._ARGS or ()
    for i, a in enumerate(args):
        if a == "--name" and i + 1 < len(args):
            return args[i + 1]
    return "initializer"


def application_setup(args):
    global SLOW_RESTORE_S, WORKER
    parser = argparse.ArgumentParser(prog="rescale_count")
    parser.add_argument("--group", default=None)
    parser.add_argument("--slow-restore-ms", type=float, default=0.0)
    opts, _ = parser.parse_known_args(args)
    SLOW_RESTORE_S = opts.slow_restore_ms / 1000.0
    WORKER = worker_name()
    options = {"group": opts.group} if opts.group else {}
    source = wallaroo.CustomKafkaSourceCLIParser(args, decode, **options)
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    pipeline = (wallaroo.source("Counts", source)
                .key_by(key_of)
                .to(count)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Kafka rescale count", pipeline)


class Seen(object):
    def __init__(self):
        self.last = -1
        self.count = 0

    def __setstate__(self, fields):
        if SLOW_RESTORE_S:
            if not _announced:
                _announced.append(True)
                sys.stderr.write("rescale_count: restoring state\n")
                sys.stderr.flush()
            time.sleep(SLOW_RESTORE_S)
        self.__dict__.update(fields)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(value, key):
    return (key.decode(), int(value))


@wallaroo.key_extractor
def key_of(event):
    return event[0]


@wallaroo.state_computation("counts", Seen)
def count(event, state):
    key, seq = event
    if seq != state.last + 1:
        expected = state.last + 1
        state.last = max(state.last, seq)  # after a gap, go on from what came; a repeat changes nothing
        return "GAP %s %d %d %s" % (key, expected, seq, WORKER)
    state.last = seq
    state.count += 1
    return "%s,%d,%s" % (key, state.count, WORKER)


@wallaroo.encoder
def encode(line):
    return (line + "\n").encode("utf-8")
