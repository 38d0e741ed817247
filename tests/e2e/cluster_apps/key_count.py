"""Rescale test app: a count per key, with an inline order check (Wallaroo's sequence-detector idea).

Input frames: text `<key>:<seq>` (u32 BE length | bytes), where each key's sequence numbers are 0, 1, 2, ... The
stream is keyed by <key>; the state stage "counts" keeps per key the last sequence number seen and the number of
events counted. Output, one line per event:

    <key>,<count>,<worker>                      the event follows the key's last one: counted
    GAP <key> <expected> <got> <worker>         it does not (an event lost, or a repeat): not counted

so with nothing lost, repeated or reordered a key's lines carry the counts 1..n exactly once, none is a GAP line,
and <worker> (this worker's --name, "initializer" without one) shows where the key's state was at that event.

--slow-restore-ms D: restoring a key's state on the worker it moves to (unpickling it) sleeps D ms, and the first
restore of the process logs `key_count: restoring state` on stderr.
--slow-save-ms D: pickling a key's state (in a rescale, on the worker it leaves) sleeps D ms, and the first key of a
hand-over logs `key_count: saving state` on stderr: a test can then kill a worker in the middle of a migration (a new
owner restores what it took after the round, when first needed).
--slow-save-while PATH: --slow-save-ms only while the file PATH exists (a test with checkpoints makes it just before
a grow and removes it after its kill, so that the checkpoints around it are not slowed).
"""
import argparse
import os
import sys
import time

import wallaroo

SLOW_RESTORE_S = 0.0
SLOW_SAVE_S = 0.0
SLOW_SAVE_WHILE = None
_announced = []
_last_save = [-1.0]
WORKER = "initializer"


def worker_name():
    """This worker's --name: from the full command line, since `args` holds only the application's arguments."""
    args = wallaroo._ARGS or ()
    for i, a in enumerate(args):
        if a == "--name" and i + 1 < len(args):
            return args[i + 1]
    return "initializer"


def application_setup(args):
    parser = argparse.ArgumentParser(prog="key_count")
    parser.add_argument("--slow-restore-ms", type=float, default=0.0)
    parser.add_argument("--slow-save-ms", type=float, default=0.0)
    parser.add_argument("--slow-save-while", default=None)
    opts, _ = parser.parse_known_args(args)
    global SLOW_RESTORE_S, WORKER
    SLOW_RESTORE_S = opts.slow_restore_ms / 1000.0
    slow_saves(opts)
    WORKER = worker_name()
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    pipeline = (wallaroo.source(source_name, wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode))
                .key_by(key_of)
                .to(count)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Key count", pipeline)


def slow_saves(opts):
    global SLOW_SAVE_S, SLOW_SAVE_WHILE
    SLOW_SAVE_S = opts.slow_save_ms / 1000.0
    SLOW_SAVE_WHILE = opts.slow_save_while


class Seen(object):
    def __init__(self):
        self.last = -1
        self.count = 0

    def __getstate__(self):
        if SLOW_SAVE_S and (SLOW_SAVE_WHILE is None or os.path.exists(SLOW_SAVE_WHILE)):
            now = time.monotonic()
            if now - _last_save[0] > 0.5:  # the first of a hand-over
                sys.stderr.write("key_count: saving state\n")
                sys.stderr.flush()
            time.sleep(SLOW_SAVE_S)
            _last_save[0] = time.monotonic()
        return self.__dict__

    def __setstate__(self, fields):
        if SLOW_RESTORE_S:
            if not _announced:
                _announced.append(True)
                sys.stderr.write("key_count: restoring state\n")
                sys.stderr.flush()
            time.sleep(SLOW_RESTORE_S)
        self.__dict__.update(fields)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(payload):
    key, seq = payload.decode("utf-8").split(":")
    return (key, int(seq))


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
