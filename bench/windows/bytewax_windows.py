"""The Bytewax peer of the windowed workload: Bytewax's own windowing operators over the same input file.

    bench/out/venv-bytewax/bin/python bench/windows/bytewax_windows.py --input FRAMES --out FILE

    input (bench/harness/bytewax_flow.py's FileSource: the frames file) -> map(logic.decode)
      -> count_window(key logic.key_of, TumblingWindower 1 s)          -> `c KEY END COUNT` lines
      -> key_on(logic.key_of) -> fold_window(SlidingWindower 10 s / 1 s, sum of the values, ordered=False)
                                                                         -> `s KEY END SUM` lines
      (both windowers aligned to the epoch, like Roo's; late items, which must not occur, become `late` lines that
      fail the check) -> FileSink (bytewax_flow.py's).

The clock is an EventClock with wait_for_system_duration 0 whose now_getter is a constant and whose to_system_utc
returns None (the documented way to run on a sense of time other than the system clock): Bytewax's watermark is then
the largest event time seen, as in Roo and the ceiling, and only items (or the end) close windows. (With the default
system-time now_getter the watermark also advances with the wall clock between batches, so a replay that runs faster
than its event time would turn the first events of every batch late and drop them.) At the end of the input Bytewax
closes every open window; the check ignores windows ending after the last event. Runs with bytewax.testing.run_main
(one worker, one thread, in this process) and prints one JSON line: seconds inside run_main, CPU seconds, peak RSS,
the Bytewax version.
"""
import argparse
import json
import os
import resource
import sys
import time
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "harness"))
import logic  # noqa: E402
from bytewax_flow import FileSink, FileSource  # noqa: E402

import bytewax.operators as op  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.operators.windowing import (EventClock, SlidingWindower, TumblingWindower, count_window,  # noqa: E402
                                         fold_window)
from bytewax.testing import run_main  # noqa: E402

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SECOND = logic.SECOND


def build_flow(in_path, out_path):
    flow = Dataflow("roo_bench_windows")
    events = op.map("decode", op.input("in", flow, FileSource(in_path, "frames")), logic.decode)

    def ts(event):
        return EPOCH + timedelta(microseconds=event[0] // 1000)

    def clock():
        return EventClock(ts, wait_for_system_duration=timedelta(0), now_getter=lambda: EPOCH,
                          to_system_utc=lambda t: None)

    encode = logic.encode_line
    tumbling = TumblingWindower(length=timedelta(seconds=1), align_to=EPOCH)
    counts = count_window("count", events, clock(), tumbling, logic.key_of)
    c_lines = op.map("encode_c", counts.down,
                     lambda kv: encode(b"c", kv[0], (kv[1][0] + 1) * SECOND, kv[1][1]))

    sliding = SlidingWindower(length=timedelta(seconds=10), offset=timedelta(seconds=1), align_to=EPOCH)
    keyed = op.key_on("key", events, logic.key_of)
    sums = fold_window("sum", keyed, clock(), sliding, lambda: 0, lambda acc, e: acc + e[2], lambda a, b: a + b,
                       ordered=False)
    span = logic.SLIDE_RANGE
    s_lines = op.map("encode_s", sums.down,
                     lambda kv: encode(b"s", kv[0], kv[1][0] * SECOND + span, kv[1][1]))

    late = op.merge("late", counts.late, sums.late)
    late_lines = op.map("encode_late", late, lambda kv: b"late %s %d %r\n" % (kv[0].encode(), kv[1][0],
                                                                               kv[1][1]))
    op.output("out", op.merge("all", c_lines, s_lines, late_lines), FileSink(out_path))
    return flow


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, help="the frames file")
    p.add_argument("--out", required=True)
    opts = p.parse_args()
    flow = build_flow(opts.input, opts.out)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    run_main(flow)
    seconds = time.monotonic() - t0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    from importlib.metadata import version
    print(json.dumps({
        "seconds": seconds,
        "cpu_seconds": (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime),
        "max_rss_mib": usage1.ru_maxrss / 1024,
        "bytewax_version": version("bytewax"),
    }), flush=True)


if __name__ == "__main__":
    main()
