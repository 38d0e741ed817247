#!/usr/bin/env python3
"""Run an example application offline: sequentially, in pure Python, without Roo.

A thin wrapper over `wallaroo.testing` (python/wallaroo/testing.py), which holds the
reference semantics the examples' expected outputs are checked against: one worker,
every source read to the end in the order example.json lists them, each event pushed
through the whole pipeline before the next one, windows included. This file only reads
example.json and the input files.

Usage:
    PYTHONPATH=python /usr/bin/python3 examples/run_offline.py examples/alphabet
prints what the sink(s) would receive (bytes, verbatim) on stdout.

The helpers `input_frames` and `load_example` are also used by tests/e2e.
"""
import argparse
import json
import os
import struct
import sys

import wallaroo.testing  # python/ on PYTHONPATH, or the package installed (pip install python/)


def load_example(folder):
    """The parsed example.json of `folder`, with the folder recorded under "dir"."""
    with open(os.path.join(folder, "example.json"), encoding="utf-8") as f:
        spec = json.load(f)
    spec["dir"] = os.path.abspath(folder)
    return spec


def input_frames(folder, source):
    """The frames (header included) `roo send` sends for one example.json source entry.

    Formats: "text" (each line, without its newline, framed as u32 BE length | bytes),
    "binary" (fixed `msg_size` records that already carry their header, sent as is),
    "framed" (a file of u32 BE length | payload records).
    """
    path = os.path.join(folder, source["file"])
    with open(path, "rb") as f:
        data = f.read()
    fmt = source["format"]
    if fmt == "text":
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return [struct.pack(">I", len(line)) + line for line in lines]
    if fmt == "binary":
        size = source["msg_size"]
        if len(data) % size:
            raise ValueError("%s: %d bytes is not a multiple of msg_size %d" % (path, len(data), size))
        return [data[i:i + size] for i in range(0, len(data), size)]
    if fmt == "framed":
        frames, at = [], 0
        while at < len(data):
            (n,) = struct.unpack(">I", data[at:at + 4])
            frames.append(data[at:at + 4 + n])
            at += 4 + n
        return frames
    raise ValueError("unknown input format %r" % fmt)


def run_example(folder, extra_args=()):
    """Run the example in `folder` with wallaroo.testing; return {sink name: the bytes it received}.

    Its sources are fed in example.json's order, each to its end, with the frames `roo send` would send.
    """
    spec = load_example(folder)
    inputs = dict((s["name"], input_frames(spec["dir"], s)) for s in spec["sources"])
    result = wallaroo.testing.run(os.path.join(spec["dir"], spec["module"] + ".py"), inputs,
                                  list(spec["app_args"]) + list(extra_args), framed=True)
    return dict((name, b"".join(outputs)) for name, outputs in result.sinks.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("example", help="an example folder, e.g. examples/alphabet")
    opts, extra = parser.parse_known_args()
    for data in run_example(opts.example, extra).values():
        sys.stdout.buffer.write(data)


if __name__ == "__main__":
    main()
