"""Window specifications Roo must refuse at start (spec §1.3.4, docs/windows.md), one per --case, for
tests/e2e/test_windows.py: each is one clear line on stderr and a non-zero exit, before any input is read.
"""
import argparse

import wallaroo


class Sum(wallaroo.Aggregation):
    def initial_accumulator(self):
        return 0

    def update(self, event, acc):
        return acc + 1

    def combine(self, acc1, acc2):
        return acc1 + acc2

    def output(self, key, acc):
        return str(acc)


class NoCombine(object):
    def name(self):
        return "NoCombine"

    def initial_accumulator(self):
        return 0

    def update(self, event, acc):
        return acc + 1

    def output(self, key, acc):
        return str(acc)


def stamp(event):
    return 0


CASES = {
    "range 0": lambda: wallaroo.range_windows(0).over(Sum),
    "slide 0": lambda: wallaroo.range_windows(100).with_slide(0).over(Sum),
    "slide above range": lambda: wallaroo.range_windows(100).with_slide(101).over(Sum),
    "negative delay": lambda: wallaroo.range_windows(100).with_delay(-1).over(Sum),
    "unknown policy": lambda: wallaroo.range_windows(100).with_late_data_policy("keep").over(Sum),
    "slide twice": lambda: wallaroo.range_windows(100).with_slide(10).with_slide(10).over(Sum),
    "count 0": lambda: wallaroo.count_windows(0).over(Sum),
    "no combine": lambda: wallaroo.count_windows(2).over(NoCombine),
    "gap 0": lambda: wallaroo.session_windows(0).over(Sum),
    "no over": lambda: wallaroo.range_windows(100),
}


def application_setup(args):
    parser = argparse.ArgumentParser(prog="invalid_windows")
    parser.add_argument("--case", required=True)
    opts, _ = parser.parse_known_args(args)
    _name, host, port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    events = wallaroo.source("Events", wallaroo.TCPSourceConfig("Events", host, port, decode))
    if opts.case == "event time after key_by":
        events = events.key_by(key_of).with_event_time(stamp)
    elif opts.case == "idleness 0":
        events = events.with_event_time(stamp, idleness=0)
    else:
        events = events.key_by(key_of).to(CASES[opts.case]())
    pipeline = events.to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode))
    return wallaroo.build_application("Invalid windows", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(data):
    return data.decode("utf-8")


@wallaroo.key_extractor
def key_of(event):
    return event


@wallaroo.encoder
def encode(line):
    return (line + "\n").encode("utf-8")
