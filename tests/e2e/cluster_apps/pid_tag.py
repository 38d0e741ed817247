"""Cluster test app: where does each key run?

Input frames: text `<key>` (u32 BE length | bytes). The stream is keyed by the text;
a stateless step after the key_by tags each event with os.getpid() (so it shows the
worker process the key group lives on), then a state stage "counts" counts the events
per key. Output line per event: `<key> <count> <pid>\n`.

Flag --delay-ms D: the tagging step sleeps D ms per event (keeps events in flight, for
drain tests).
"""
import argparse
import os
import time

import wallaroo


DELAY = 0.0


def application_setup(args):
    parser = argparse.ArgumentParser(prog="pid_tag")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    opts, _ = parser.parse_known_args(args)
    global DELAY
    DELAY = opts.delay_ms / 1000.0
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    keys = wallaroo.source(source_name, wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode))
    pipeline = (keys
                .key_by(key_of)
                .to(tag_pid)
                .to(count)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Pid tag", pipeline)


class Tagged(object):
    def __init__(self, key, pid):
        self.key = key
        self.pid = pid
        self.count = 0


class Count(object):
    def __init__(self):
        self.n = 0


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(payload):
    return payload.decode("utf-8")


@wallaroo.key_extractor
def key_of(text):
    return text


@wallaroo.computation("tag pid")
def tag_pid(text):
    if DELAY:
        time.sleep(DELAY)
    return Tagged(text, os.getpid())


@wallaroo.state_computation("counts", Count)
def count(tagged, state):
    state.n += 1
    tagged.count = state.n
    return tagged


@wallaroo.encoder
def encode(tagged):
    return ("%s %d %d\n" % (tagged.key, tagged.count, tagged.pid)).encode("utf-8")
