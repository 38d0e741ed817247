"""The ceiling: the windowed workload as a bare Python loop in one process.

    /usr/bin/python3 bench/windows/ceiling.py --input FRAMES --out FILE

Reads the frames file into a list of payloads (not timed), then times one loop over them: decode (logic.decode),
a dict of one-second panes [count, sum] per key, and the watermark = the largest event time seen; whenever it
passes window ends, every key's due 1 s count and 10 s / 1 s sum are encoded (logic.encode_line) and appended to a
list, and panes no longer needed are dropped. Prints one JSON line: CPU and wall seconds of the loop, events,
outputs. The outputs are written to --out afterwards for the check.
"""
import argparse
import gc
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import logic  # noqa: E402


def windows_loop(payloads, out):
    decode, encode = logic.decode, logic.encode_line
    second = logic.SECOND
    span = logic.SLIDE_RANGE // logic.SLIDE
    append = out.append
    panes = {}              # key -> {second: [count, sum]}
    get = panes.get
    watermark = -1
    next_end = None         # the next window end (ns) to fire
    for payload in payloads:
        t, key, value = decode(payload)
        s = t // second
        mine = get(key)
        if mine is None:
            mine = panes[key] = {}
        cell = mine.get(s)
        if cell is None:
            mine[s] = [1, value]
        else:
            cell[0] += 1
            cell[1] += value
        if t > watermark:
            watermark = t
            if next_end is None:
                next_end = (s + 1) * second
            while next_end <= watermark:
                last = next_end // second - 1          # the second just closed
                first = last - span + 1                # the sliding window's first second
                for k, kp in panes.items():
                    c = kp.get(last)
                    if c is not None:
                        append(encode(b"c", k, next_end, c[0]))
                    total, found = 0, False
                    for x in range(first, last + 1):
                        c = kp.get(x)
                        if c is not None:
                            total += c[1]
                            found = True
                    if found:
                        append(encode(b"s", k, next_end, total))
                    kp.pop(first, None)                # no later window needs it
                next_end += second
    return watermark


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    opts = p.parse_args()
    with open(opts.input, "rb") as f:
        raw = f.read()
    size = 4 + 14
    payloads = [raw[i + 4:i + size] for i in range(0, len(raw), size)]
    del raw
    out = []
    gc.collect()
    c0, t0 = time.process_time(), time.monotonic()
    windows_loop(payloads, out)
    c1, t1 = time.process_time(), time.monotonic()
    with open(opts.out, "wb") as f:
        f.write(b"".join(out))
    print(json.dumps({"cpu_seconds": c1 - c0, "seconds": t1 - t0, "events": len(payloads), "outputs": len(out)}),
          flush=True)


if __name__ == "__main__":
    main()
