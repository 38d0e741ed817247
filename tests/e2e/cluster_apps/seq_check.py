"""Resilience test app: every worker's generator counts 0..N-1, and state checks the sequence inline.

Every worker runs its own generator source (Wallaroo semantics: each worker's application_setup makes its own),
producing (worker name, n) for n = 0 .. --events - 1, rate-limited in user code (it sleeps --pause-ms every
--pause-every values, so a run lasts several seconds). The value n belongs to key "<worker>:<n % K>" and is
that key's sequence number n // K.

--hops 1:  key_by(key) -> "check" (state: the key's last sequence number) -> sink
--hops 2:  key_by(key) -> "check" -> key_by(key + "/b") -> "check again" -> sink
           (keys are spread over the workers by hash, so for about half of the keys the second key_by moves the
           event to another worker than the first one's: batches travel both ways between the workers)

State must see each key's sequence numbers exactly once and in order: a number that does not follow the last one
(a gap: lost; a repeat: counted twice) makes the step output `GAP <step> <key> <expected> <got>` instead. The
other output lines are `<key>,<seq>` (--hops 1) or `<key>,<seq>,<first stage's seq>` (--hops 2), so a key's last
line holds its final state; with no fault every key ends at N/K - 1.
"""
import argparse
import time

import wallaroo

OPTS = None


def parse(args):
    parser = argparse.ArgumentParser(prog="seq_check")
    parser.add_argument("--events", type=int, default=40000)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--pause-every", type=int, default=500)
    parser.add_argument("--pause-ms", type=float, default=10.0)
    parser.add_argument("--hops", type=int, choices=(1, 2), default=1)
    opts, _ = parser.parse_known_args(args)
    return opts


def worker_name():
    """This worker's --name (the initializer has none): from the full command line, since `args` holds only
    the application's arguments."""
    args = wallaroo._ARGS or ()
    for i, a in enumerate(args):
        if a == "--name" and i + 1 < len(args):
            return args[i + 1]
    return "initializer"


class Count(object):
    """The generator of one worker: (worker name, n)."""

    def __init__(self, name, events, pause_every, pause_s):
        self.name = name
        self.events = events
        self.pause_every = pause_every
        self.pause_s = pause_s

    def initial_value(self):
        return (self.name, 0)

    def apply(self, v):
        n = v[1] + 1
        if n >= self.events:
            return None
        if n % self.pause_every == 0:
            time.sleep(self.pause_s)
        return (self.name, n)


class Last(object):
    def __init__(self):
        self.last = -1


def key_of(v):
    return "%s:%d" % (v[0], v[1] % OPTS.keys)


@wallaroo.key_extractor
def first_key(v):
    return key_of(v)


@wallaroo.key_extractor
def second_key(v):
    if isinstance(v, str):  # a GAP line of the first stage
        return "gap"
    return key_of(v) + "/b"


def follow(step, v, state):
    """The sequence check: None if v's number follows the state's last one, else the GAP line."""
    seq = v[1] // OPTS.keys
    expected = state.last + 1
    state.last = seq
    if seq != expected:
        return "GAP %s %s %d %d" % (step, key_of(v), expected, seq)
    return None


@wallaroo.state_computation(name="check", state=Last)
def check(v, state):
    gap = follow("check", v, state)
    if gap is not None:
        return gap
    if OPTS.hops == 1:
        return "%s,%d" % (key_of(v), state.last)
    return (v[0], v[1], state.last)


@wallaroo.state_computation(name="check again", state=Last)
def check_again(v, state):
    if isinstance(v, str):  # a GAP line of the first stage goes on to the sink
        return v
    gap = follow("check again", v, state)
    if gap is not None:
        return gap
    return "%s,%d,%d" % (key_of(v), state.last, v[2])


@wallaroo.encoder
def encode(line):
    return (line + "\n").encode("utf-8")


def application_setup(args):
    global OPTS
    OPTS = parse(args)
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    source = Count(worker_name(), OPTS.events, OPTS.pause_every, OPTS.pause_ms / 1000.0)
    pipeline = wallaroo.source("count", wallaroo.GenSourceConfig(source)).key_by(first_key).to(check)
    if OPTS.hops == 2:
        pipeline = pipeline.key_by(second_key).to(check_again)
    pipeline = pipeline.to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode))
    return wallaroo.build_application("seq check", pipeline)
