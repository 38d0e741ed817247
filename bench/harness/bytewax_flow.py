"""The Bytewax peer: one workload's dataflow with Bytewax operators, over the same input files.

Runs under bench/out/venv-bytewax/bin/python (bench/suite.py creates that virtualenv and
pip-installs bytewax). The dataflow calls the workload's own user functions
(bench/workloads/NAME/logic.py, through plan.load) with Bytewax's operator API:

    input (one per source: the same frame/line files roo send replays) -> map(decode)
      [-> flat_map(split)] -> key_on(key) -> stateful_map(state, compute)
      -> filter_map(encode; None dropped) -> output (appends the bytes to --out)

Sources merged before the key go through op.merge. It runs with bytewax.testing.run_main:
one worker, one thread, in this process. Prints one JSON line: seconds inside run_main,
CPU seconds of the process during it, peak RSS and the Bytewax version. The output file is
checked by the suite with the workload's own check, like the other systems' outputs.

    venv-bytewax/bin/python bench/harness/bytewax_flow.py --workload alphabet --out FILE \
        --input FILE[,FILE]:FORMAT [--input ...]     # FORMAT: frames | lines
"""
import argparse
import json
import os
import resource
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plan  # noqa: E402

import bytewax  # noqa: E402
import bytewax.operators as op  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.inputs import DynamicSource, StatelessSourcePartition  # noqa: E402
from bytewax.outputs import DynamicSink, StatelessSinkPartition  # noqa: E402
from bytewax.testing import run_main  # noqa: E402

READ_SIZE = 256 * 1024


class _FilePartition(StatelessSourcePartition):
    """Payloads of some files read one after the other, READ_SIZE bytes per batch: u32 BE length frames, or lines."""

    def __init__(self, paths, fmt):
        self.paths = list(paths)
        self.file = open(self.paths.pop(0), "rb")
        self.fmt = fmt
        self.carry = b""

    def next_batch(self):
        chunk = self.file.read(READ_SIZE)
        while not chunk and self.paths:
            self.file.close()
            self.file = open(self.paths.pop(0), "rb")
            chunk = self.file.read(READ_SIZE)
        if not chunk:
            if self.carry:
                raise ValueError("%d bytes of an incomplete record at the end of the input" % len(self.carry))
            raise StopIteration()
        buf = self.carry + chunk if self.carry else chunk
        if self.fmt == "lines":
            end = buf.rfind(b"\n") + 1
            self.carry = buf[end:]
            return [line for line in buf[:end].split(b"\n") if line]
        unpack_from = struct.unpack_from
        payloads = []
        append = payloads.append
        at, end = 0, len(buf)
        while end - at >= 4:
            (length,) = unpack_from(">I", buf, at)
            nxt = at + 4 + length
            if nxt > end:
                break
            append(buf[at + 4:nxt])
            at = nxt
        self.carry = buf[at:]
        return payloads

    def close(self):
        self.file.close()


class FileSource(DynamicSource):
    def __init__(self, path, fmt):
        self.path = path
        self.fmt = fmt

    def build(self, step_id, worker_index, worker_count):
        if worker_count != 1:
            raise ValueError("this benchmark runs Bytewax with one worker")
        return _FilePartition(self.path.split(","), self.fmt)


class _FilePartitionOut(StatelessSinkPartition):
    def __init__(self, path):
        self.file = open(path, "wb")

    def write_batch(self, items):
        self.file.write(b"".join(items))

    def close(self):
        self.file.close()


class FileSink(DynamicSink):
    def __init__(self, path):
        self.path = path

    def build(self, step_id, worker_index, worker_count):
        return _FilePartitionOut(self.path)


def build_flow(logic, inputs, out_path):
    flow = Dataflow("roo_bench")
    streams = []
    for i, ((name, decode), (path, fmt)) in enumerate(zip(logic.SOURCES, inputs)):
        raw = op.input("in%d" % i, flow, FileSource(path, fmt))
        streams.append(op.map("decode%d" % i, raw, decode))
    events = streams[0] if len(streams) == 1 else op.merge("merge", *streams)
    encode, compute = logic.ENCODE, logic.COMPUTE
    if logic.KEY is None:
        out = op.filter_map("compute_encode", events, lambda e: _encode_or_none(encode, compute(e)))
    else:
        if logic.SPLIT is not None:
            events = op.flat_map("split", events, logic.SPLIT)
        keyed = op.key_on("key", events, logic.KEY)
        state_cls = logic.STATE

        def mapper(state, event):
            if state is None:
                state = state_cls()
            return state, compute(event, state)

        results = op.stateful_map("state", keyed, mapper)
        out = op.filter_map("encode", results, lambda kv: None if kv[1] is None else encode(kv[1]))
    op.output("out", out, FileSink(out_path))
    return flow


def _encode_or_none(encode, result):
    return None if result is None else encode(result)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", required=True, choices=plan.WORKLOADS)
    p.add_argument("--input", action="append", required=True,
                   help="FILE[,FILE...]:frames or ...:lines, one per source (its files are read in order)")
    p.add_argument("--out", required=True)
    opts = p.parse_args()
    logic, _ = plan.load(opts.workload)
    inputs = [tuple(x.rsplit(":", 1)) for x in opts.input]
    if len(inputs) != len(logic.SOURCES):
        p.error("%s has %d sources, got %d --input" % (opts.workload, len(logic.SOURCES), len(inputs)))
    flow = build_flow(logic, inputs, opts.out)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    run_main(flow)
    seconds = time.monotonic() - t0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "seconds": seconds,
        "cpu_seconds": (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime),
        "max_rss_mib": usage1.ru_maxrss / 1024,
        "bytewax_version": getattr(bytewax, "__version__", None) or _dist_version(),
    }), flush=True)


def _dist_version():
    from importlib.metadata import version
    return version("bytewax")


if __name__ == "__main__":
    main()
