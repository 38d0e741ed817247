"""Test app: a keyed-state pipeline into a connector sink (wallaroo.experimental.SinkConnectorConfig) named "results".

Each value v is keyed by v % K; each key's state counts the values it saw. The output of v is the line
"<key>,<count>,<v>", so a value counted twice, or one skipped, in state changes every later line of its key.

On a cluster every worker runs its own generator (as in Wallaroo); with --key-by-worker each value carries the name of
the worker that made it, its key is "<worker>:<v % K>" and its line "<worker>:<v % K>,<count>,<v>", so the output of
every generator is known exactly whichever worker owns each key.

Flags (after the Wallaroo ones):
  --sink-port P, --sink-cookie C (cookie)   where the connector sink listens
  --source gen (default) | tcp              gen: a generator source emitting 0 .. --count - 1 (replayed from its
                                            checkpointed position after a restart); tcp: --in frames, each an integer
  --count N (300)   --keys K (5)   --key-by-worker: keys (and lines) start with "<worker name>:"
  --pause-every E (10), --pause-ms M (5): the generator sleeps M ms every E values, so a run spans many checkpoints
                    (it runs 256 values between the executor's other work: ~130 ms with the defaults)
"""
import argparse
import time

import wallaroo
import wallaroo.experimental as experimental
from wallaroo._bruco import _worker_name

OPTS = None
TAG = ""  # "<worker name>:" with --key-by-worker


def application_setup(args):
    global OPTS, TAG
    parser = argparse.ArgumentParser(prog="connector_sink_app")
    parser.add_argument("--sink-port", type=int, required=True)
    parser.add_argument("--sink-cookie", default="cookie")
    parser.add_argument("--source", choices=["gen", "tcp"], default="gen")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--keys", type=int, default=5)
    parser.add_argument("--pause-every", type=int, default=10)
    parser.add_argument("--pause-ms", type=float, default=5.0)
    parser.add_argument("--key-by-worker", action="store_true")
    OPTS, _ = parser.parse_known_args(args)
    TAG = _worker_name(None) + ":" if OPTS.key_by_worker else ""
    if OPTS.source == "gen":
        source = wallaroo.source("Values", wallaroo.GenSourceConfig("Values", Counter()))
    else:
        (name, host, port), = wallaroo.tcp_parse_input_addrs(args)
        source = wallaroo.source(name, wallaroo.TCPSourceConfig(name, host, port, decode_value))
    sink = experimental.SinkConnectorConfig("results", encoder=encode_line, decoder=decode_line,
                                            port=OPTS.sink_port, cookie=OPTS.sink_cookie)
    return wallaroo.build_application("ConnSink", source.key_by(key_of).to(count).to_sink(sink))


class Counter(object):
    """(TAG, 0) .. (TAG, count-1), then None; sleeps every pause_every values."""

    def initial_value(self):
        return (TAG, 0) if OPTS.count > 0 else None

    def apply(self, previous):
        value = previous[1] + 1
        if value >= OPTS.count:
            return None
        if OPTS.pause_every and value % OPTS.pause_every == 0:
            time.sleep(OPTS.pause_ms / 1000.0)
        return (TAG, value)


class Seen(object):
    def __init__(self):
        self.count = 0


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_value(payload):
    return (TAG, int(payload.decode("ascii")))


@wallaroo.key_extractor
def key_of(tagged):
    tag, value = tagged
    return "%s%d" % (tag, value % OPTS.keys)


@wallaroo.state_computation(name="count", state=Seen)
def count(tagged, state):
    tag, value = tagged
    state.count += 1
    return "%s%d,%d,%d" % (tag, value % OPTS.keys, state.count, value)


@experimental.octet_message_encoder
def encode_line(text):
    return (text + "\n").encode("ascii")


@experimental.octet_message_decoder
def decode_line(payload):
    return payload.decode("ascii")
