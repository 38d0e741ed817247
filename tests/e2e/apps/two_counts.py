"""Test app: one state computation applied twice in a G2 pipeline, over a replayable generator source.

The generator emits 0 .. keys*per_key-1 (sleeping a little every few values), keyed by value % keys. Each event is
a list [value, count...]; the counter appends its count for the key. The first stage passes on only even values,
so the two stages hold different counts for the same key: for value v of key k, the first count is v // keys + 1
and the second is the number of even values of k up to v. Output: "key value count1 count2".
A recovery that mixed the two states up, merged them or lost one shows in the counts.

Flags: --keys K (5, odd so that every key sees both parities), --per-key P (400), --pause-every E (20),
--pause-ms M (5).
"""
import argparse
import time

import wallaroo

KEYS = 5


def application_setup(args):
    global KEYS
    parser = argparse.ArgumentParser(prog="two_counts")
    parser.add_argument("--keys", type=int, default=5)
    parser.add_argument("--per-key", type=int, default=400)
    parser.add_argument("--pause-every", type=int, default=20)
    parser.add_argument("--pause-ms", type=float, default=5.0)
    opts, _ = parser.parse_known_args(args)
    KEYS = opts.keys
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    generator = Values(opts.keys * opts.per_key, opts.pause_every, opts.pause_ms / 1000.0)
    pipeline = (wallaroo.source("Values", wallaroo.GenSourceConfig("Values", generator))
                .key_by(key_of).to(count).to(count)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_line)))
    return wallaroo.build_application("Two counts", pipeline)


class Values(object):
    def __init__(self, count, every, pause):
        self.count = count
        self.every = every
        self.pause = pause

    def initial_value(self):
        return 0 if self.count > 0 else None

    def apply(self, previous):
        value = previous + 1
        if value >= self.count:
            return None
        if value % self.every == 0:
            time.sleep(self.pause)
        return value


class Counter(object):
    def __init__(self):
        self.n = 0


@wallaroo.key_extractor
def key_of(event):
    value = event[0] if isinstance(event, list) else event
    return str(value % KEYS)


@wallaroo.state_computation(name="count", state=Counter)
def count(event, counter):
    counter.n += 1
    if not isinstance(event, list):
        return [event, counter.n] if event % 2 == 0 else None
    return event + [counter.n]


@wallaroo.encoder
def encode_line(event):
    value = event[0]
    return ("%d %d %s\n" % (value % KEYS, value, " ".join(str(n) for n in event[1:]))).encode("ascii")
