"""Checkpoint benchmark app: N keys of state, created once, then a paced share of them changing.

A GenSourceConfig generator (so a restart replays it from the checkpointed position) emits event
indexes. Phase 1, indexes 0..N-1: each creates key i once, as fast as the executor goes. Phase 2,
index N onwards: --change-percent % of the N keys change per --change-interval seconds, spread
evenly over the interval (paced here, in user code); consecutive changes walk a permutation of the
keys, so the changes of one interval touch distinct keys. Between due changes the generator sleeps
at most 0.1 ms and emits an idle tick, which the first step drops (so a turn of the executor stays
short and checkpoints are taken on time). Every change writes one output line "INDEX COUNT\n".

When phase 2 starts in this process, it writes one line to stderr:
    keyed_changes: changes start at index N, R changes/s
(bench/checkpoint/run.py tells the creation checkpoints from the steady ones by it).

Flags (after the app): --keys N (default 10000), --change-percent P (default 1),
--change-interval S (default 1.0).
"""
import argparse
import sys
import time

import wallaroo

KEYS = 10000
RATE = 100.0
STEP = 1000003  # a prime above any N used: index -> key is a permutation of 0..N-1


def application_setup(args):
    parser = argparse.ArgumentParser(prog="keyed_changes")
    parser.add_argument("--keys", type=int, default=10000)
    parser.add_argument("--change-percent", type=float, default=1.0)
    parser.add_argument("--change-interval", type=float, default=1.0)
    opts, _ = parser.parse_known_args(args)
    global KEYS, RATE
    KEYS = opts.keys
    RATE = KEYS * opts.change_percent / 100.0 / opts.change_interval
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    events = wallaroo.source("Changes", wallaroo.GenSourceConfig("Changes", Changes()))
    pipeline = (events
                .to(drop_ticks)
                .key_by(key_of)
                .to(change)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Keyed changes", pipeline)


class Changes(object):
    """Values: an event index i >= 0, or an idle tick -(i + 1) (the next event is i)."""

    def __init__(self):
        self.started = None  # monotonic time of this process's first phase-2 event
        self.paced = 0       # phase-2 events emitted by this process

    def initial_value(self):
        return 0

    def apply(self, previous):
        index = previous + 1 if previous >= 0 else -previous - 1
        if index < KEYS:
            return index
        now = time.monotonic()
        if self.started is None:
            self.started = now
            sys.stderr.write("keyed_changes: changes start at index %d, %.0f changes/s\n" % (index, RATE))
            sys.stderr.flush()
        due = self.started + self.paced / RATE
        if now < due:
            time.sleep(min(due - now, 0.0001))
            if time.monotonic() < due:
                return -index - 1
        self.paced += 1
        return index


class Counter(object):
    def __init__(self):
        self.count = 0


@wallaroo.computation(name="drop ticks")
def drop_ticks(index):
    return index if index >= 0 else None


@wallaroo.key_extractor
def key_of(index):
    return str(index if index < KEYS else (index - KEYS) * STEP % KEYS)


@wallaroo.state_computation(name="change", state=Counter)
def change(index, state):
    state.count += 1
    return (index, state.count)


@wallaroo.encoder
def encode(pair):
    return ("%d %d\n" % pair).encode()
