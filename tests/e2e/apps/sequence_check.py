"""Test app for checkpoints and recovery: an inline sequence check (as Wallaroo's sequence-detector apps).

A generator source emits the integers 0 .. keys*per_key-1, then None. The stream is keyed by value % keys; each
key's state is the last sequence number it saw (value // keys), and the state computation checks that every value
follows the last one of its key. It outputs "key,seq", or "GAP key expected got" when a value does not follow (a
value lost or counted twice in state). Restored from a checkpoint with the generator rewound to the position taken
with it, the check never fails; a state restored without the generator's position (or the reverse) fails it.

Flags (after the Wallaroo ones):
  --keys K (10)            --per-key P (1000)
  --pause-every E (100)    --pause-ms M (2): the generator sleeps M ms every E values, so a run lasts a while
  --unpicklable A:B        while key 0's sequence number is in A..B-1 its state holds a threading.Lock (it cannot
                           be pickled); from B on the lock is gone again
  --pad-step S, --pad-cap C: each key's state carries min(seq*S, C) bytes of padding (its state grows)
  --restore-ms R (0)       each state object sleeps R ms when unpickled (a recovery lasts long enough to be hit)
  --restore-raises         unpickling a state object raises ValueError (a state that cannot be read back)
  --g1                     build it with the G1 ApplicationBuilder (new_pipeline / to_state_partition)
"""
import argparse
import threading
import time

import wallaroo

OPTS = None


def application_setup(args):
    global OPTS
    parser = argparse.ArgumentParser(prog="sequence_check")
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--per-key", type=int, default=1000)
    parser.add_argument("--pause-every", type=int, default=100)
    parser.add_argument("--pause-ms", type=float, default=2.0)
    parser.add_argument("--unpicklable", default=None)
    parser.add_argument("--pad-step", type=int, default=0)
    parser.add_argument("--pad-cap", type=int, default=0)
    parser.add_argument("--restore-ms", type=float, default=0.0)
    parser.add_argument("--restore-raises", action="store_true")
    parser.add_argument("--g1", action="store_true")
    OPTS, _ = parser.parse_known_args(args)
    if OPTS.unpicklable:
        low, high = OPTS.unpicklable.split(":")
        OPTS.unpicklable = (int(low), int(high))
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    generator = SequenceGenerator(OPTS.keys * OPTS.per_key, OPTS.pause_every, OPTS.pause_ms / 1000.0)
    source = wallaroo.GenSourceConfig("Sequence", generator)
    sink = wallaroo.TCPSinkConfig(out_host, out_port, encode_line)
    if OPTS.g1:
        ab = wallaroo.ApplicationBuilder("Sequence check G1")
        ab.new_pipeline("Sequence", source)
        ab.to_state_partition(check_g1, LastSeen, "last seen", by_key)
        ab.to_sink(sink)
        return ab.build()
    pipeline = wallaroo.source("Sequence", source).key_by(key_of).to(check).to_sink(sink)
    return wallaroo.build_application("Sequence check", pipeline)


class SequenceGenerator(object):
    """0 .. count-1, then None; sleeps `pause` seconds every `every` values."""

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
        if self.every > 0 and value % self.every == 0 and self.pause > 0:
            time.sleep(self.pause)
        return value


class LastSeen(object):
    def __init__(self):
        self.last = -1
        self.lock = None
        self.pad = b""

    def __setstate__(self, fields):
        if OPTS.restore_raises:
            raise ValueError("this state is not restored here")
        if OPTS.restore_ms:
            time.sleep(OPTS.restore_ms / 1000.0)
        self.__dict__.update(fields)


@wallaroo.key_extractor
def key_of(value):
    return str(value % OPTS.keys)


@wallaroo.partition
def by_key(value):
    return str(value % OPTS.keys)


def follow(value, state):
    key = value % OPTS.keys
    seq = value // OPTS.keys
    expected = state.last + 1
    state.last = seq
    if OPTS.unpicklable and key == 0:
        low, high = OPTS.unpicklable
        state.lock = threading.Lock() if low <= seq < high else None
    if OPTS.pad_step:
        state.pad = b"x" * min(seq * OPTS.pad_step, OPTS.pad_cap)
    if seq != expected:
        return "GAP %d %d %d" % (key, expected, seq)
    return "%d,%d" % (key, seq)


@wallaroo.state_computation(name="check sequence", state=LastSeen)
def check(value, state):
    return follow(value, state)


@wallaroo.state_computation(name="check sequence")
def check_g1(value, state):
    return (follow(value, state), True)


@wallaroo.encoder
def encode_line(text):
    return (text + "\n").encode("ascii")
