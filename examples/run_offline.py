#!/usr/bin/env python3
"""Run an example application offline: sequentially, in pure Python, without Roo.

This is the reference semantics the examples' expected outputs are checked against:
one worker, every source read to the end in the order example.json lists them, each
event pushed through the whole pipeline before the next one (per-key FIFO trivially
holds). It interprets what `application_setup(args)` returns, in both shapes:
the G2 topology `(app_name, root_idx, vs, es)` and the G1 ApplicationBuilder action
list. Only TCP and generator sources and TCP sinks are supported.

Usage:
    PYTHONPATH=python /usr/bin/python3 examples/run_offline.py examples/alphabet
prints what the sink(s) would receive (bytes, verbatim) on stdout.

The helpers `input_frames` and `load_example` are also used by tests/e2e.
"""
import argparse
import importlib
import json
import os
import struct
import sys


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


def decode_frames(decoder, frames):
    """Split each frame with the decoder's own header spec, then decode its payload."""
    header_length = decoder.header_length()
    for frame in frames:
        header, payload = frame[:header_length], frame[header_length:]
        if decoder.payload_length(header) != len(payload):
            raise ValueError("frame length mismatch")
        yield decoder.decode(payload)


def generate(gen):
    value = gen.initial_value()
    while value is not None:
        yield value
        value = gen.apply(value)


class OfflineRun(object):
    """Sequential interpreter of one application description."""

    def __init__(self):
        self.states = {}
        self.sink_bytes = {}

    def state_for(self, stage_id, key, make):
        slot = (stage_id, key)
        if slot not in self.states:
            self.states[slot] = make()
        return self.states[slot]

    def run_stages(self, stages, key, data, legacy_state):
        """Push `data` (with routing key `key`) through `stages`, depth first."""
        if not stages:
            return
        stage, rest = stages[0], stages[1:]
        kind = stage[0]
        if kind == "key_by":
            extractor = stage[1]
            extract = getattr(extractor, "extract_key", None) or extractor.partition
            self.run_stages(rest, extract(data), data, legacy_state)
        elif kind == "collect":
            self.run_stages(rest, "collect-key", data, legacy_state)
        elif kind in ("to", "to_parallel", "to_state", "to_stateful", "to_state_partition"):
            comp = stage[1]
            if kind in ("to_state", "to_stateful", "to_state_partition"):
                if kind == "to_state":
                    # G2: every .to(state computation) has its own state (the stage tuple is this step).
                    stage_id, make = id(stage), comp.initial_state
                else:
                    builder = stage[2]
                    stage_id = stage[3]
                    make = builder.build if hasattr(builder, "build") else builder
                    if kind == "to_state_partition":
                        key = stage[4].partition(data)
                    else:
                        key = "stateful"
                state = self.state_for(stage_id, key, make)
                if hasattr(comp, "compute_multi"):
                    result = comp.compute_multi(data, state)
                else:
                    result = comp.compute(data, state)
                if legacy_state:
                    result = result[0]
            else:
                result = comp.compute_multi(data) if hasattr(comp, "compute_multi") else comp.compute(data)
            if hasattr(comp, "compute_multi"):
                outputs = [r for r in (result or []) if r is not None]
            else:
                outputs = [] if result is None else [result]
            for out in outputs:
                self.run_stages(rest, key, out, legacy_state)
        elif kind in ("to_sink", "to_sinks"):
            sinks = [stage[1]] if kind == "to_sink" else stage[1]
            for sink in sinks:
                if sink[0] != "tcp":
                    raise ValueError("offline runs support TCP sinks only, got %r" % (sink[0],))
                host, port, encoder = sink[2], sink[3], sink[4]
                out = encoder.encode(data)
                if out is not None:
                    address = "%s:%s" % (host, port)
                    self.sink_bytes[address] = self.sink_bytes.get(address, b"") + out
        else:
            raise ValueError("offline runs do not support stage %r" % (kind,))

    def feed(self, source_tuple, stages, frames_by_name, name, legacy_state):
        kind = source_tuple[0]
        if kind == "tcp":
            decoder = source_tuple[4] if len(source_tuple) > 4 else source_tuple[3]
            events, key = decode_frames(decoder, frames_by_name.get(name, [])), "tcp-source-key"
        elif kind == "gen":
            events, key = generate(source_tuple[-1]), "gen-source-key"
        else:
            raise ValueError("offline runs support tcp and gen sources only, got %r" % (kind,))
        for event in events:
            if event is not None:
                self.run_stages(stages, key, event, legacy_state)


def pipelines(description):
    """[(source name, source tuple, stages, legacy_state)] in source order."""
    if isinstance(description, list):  # G1 action list
        result, current = [], None
        for action in description:
            if action[0] == "new_pipeline":
                current = [action[1], action[2], [], True]
                result.append(current)
            elif action[0] in ("name", "done"):
                continue
            else:
                current[2].append(tuple(action))
        return [tuple(p) for p in result]
    _app_name, root_idx, vs, es = description

    def walk(idx, tail):
        node = vs[idx]
        stages = [s for s in node if s[0] != "source"] + tail
        if node and node[0][0] == "source":
            return [(node[0][1], node[0][2], stages, False)]
        found = []
        for child in es[idx]:
            found.extend(walk(child, stages))
        return found
    return walk(root_idx, [])


def run_example(folder, extra_args=()):
    """Run the example in `folder`; return {sink address: bytes} in sink order."""
    spec = load_example(folder)
    sys.path.insert(0, spec["dir"])
    try:
        module = importlib.import_module(spec["module"])
    finally:
        sys.path.remove(spec["dir"])
    frames = dict((s["name"], input_frames(spec["dir"], s)) for s in spec["sources"])
    ins = ",".join("%s@127.0.0.1:%d" % (s["name"], 7010 + i) for i, s in enumerate(spec["sources"]))
    args = ["--out", "127.0.0.1:7002"] + (["--in", ins] if ins else []) + spec["app_args"] + list(extra_args)
    import wallaroo
    wallaroo._ARGS = tuple(["roo"] + args)
    description = module.application_setup(args)
    run = OfflineRun()
    order = [s["name"] for s in spec["sources"]]
    found = pipelines(description)
    found.sort(key=lambda p: order.index(p[0]) if p[0] in order else len(order))
    for name, source_tuple, stages, legacy in found:
        run.feed(source_tuple, stages, frames, name, legacy)
    return run.sink_bytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("example", help="an example folder, e.g. examples/alphabet")
    opts, extra = parser.parse_known_args()
    for data in run_example(opts.example, extra).values():
        sys.stdout.buffer.write(data)


if __name__ == "__main__":
    main()
