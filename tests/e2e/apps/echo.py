"""Test app: every frame's text comes out as a line, unchanged.

All --in sources are merged into one stream; every --out address gets every line
(to_sinks when there are several). Flags:
  --max-size N   TCP sources' max_size (default 16384)
  --delay-ms D   sleep D ms per event in the computation (to keep events in flight)
  --started-file PATH  create PATH when the computation sees its first event
"""
import argparse
import time

import wallaroo

DELAY_S = 0.0
STARTED_FILE = None


def application_setup(args):
    parser = argparse.ArgumentParser(prog="echo")
    parser.add_argument("--max-size", type=int, default=16384)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--started-file")
    opts, _ = parser.parse_known_args(args)
    global DELAY_S, STARTED_FILE
    DELAY_S = opts.delay_ms / 1000.0
    STARTED_FILE = opts.started_file

    pipeline = None
    for name, host, port in wallaroo.tcp_parse_input_addrs(args):
        source = wallaroo.source(name, wallaroo.TCPSourceConfig(
            name, host, port, decode_text, max_size=opts.max_size))
        pipeline = source if pipeline is None else pipeline.merge(source)
    sinks = [wallaroo.TCPSinkConfig(host, port, encode_line)
             for host, port in wallaroo.tcp_parse_output_addrs(args)]
    pipeline = pipeline.to(echo)
    if len(sinks) == 1:
        pipeline = pipeline.to_sink(sinks[0])
    else:
        pipeline = pipeline.to_sinks(sinks)
    return wallaroo.build_application("Echo", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_text(payload):
    return payload.decode("utf-8")


@wallaroo.computation("echo")
def echo(text):
    global STARTED_FILE
    if STARTED_FILE:
        open(STARTED_FILE, "w").close()
        STARTED_FILE = None
    if DELAY_S:
        time.sleep(DELAY_S)
    return text


@wallaroo.encoder
def encode_line(text):
    return (text + "\n").encode("utf-8")
