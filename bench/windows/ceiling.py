"""The ceiling: the windowed workload as a bare Python loop in one process.

    /usr/bin/python3 bench/windows/ceiling.py --input FRAMES --out FILE [--loop functions|inline]

Reads the frames file into a list of payloads (not timed), then times one loop over them: a dict of one-second
panes per key and the watermark = the largest event time seen; whenever it passes window ends, every key's due 1 s
count and 10 s / 1 s sum are encoded and appended to a list, and panes no longer needed are dropped.
--loop functions (the default, the ceiling): every step goes through the user's functions as Roo calls them
(logic.decode, event_time, key_of; Count's and Sum's initial_accumulator and update per event; per window, combine
over its panes, output, encode_output), like the ceilings of bench/run (the workload's user functions in a tight
loop). --loop inline: the same logic written out in the loop (decode and the line encoding the only calls), for
reference. Prints one JSON line: CPU and wall seconds of the loop, events, outputs. The outputs are written to --out
afterwards for the check.
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


def functions_loop(payloads, out):
    """The same panes and firing, every step through the user's functions as Roo calls them: decode, event_time,
    key_of, Count/Sum's initial_accumulator and update per event, and per fired window combine over its panes,
    output and encode_output."""
    decode, event_time, key_of, encode = logic.decode, logic.event_time, logic.key_of, logic.encode_output
    count, total = logic.Count(), logic.Sum()
    c_init, c_update, c_output = count.initial_accumulator, count.update, count.output
    s_init, s_update, s_combine, s_output = total.initial_accumulator, total.update, total.combine, total.output
    second = logic.SECOND
    span = logic.SLIDE_RANGE // logic.SLIDE
    append = out.append
    panes = {}              # key -> {second: [Count's accumulator, Sum's accumulator]}
    get = panes.get
    watermark = -1
    next_end = None
    for payload in payloads:
        event = decode(payload)
        t = event_time(event)
        key = key_of(event)
        s = t // second
        mine = get(key)
        if mine is None:
            mine = panes[key] = {}
        cell = mine.get(s)
        if cell is None:
            cell = mine[s] = [c_init(), s_init()]
        c_update(event, cell[0])
        s_update(event, cell[1])
        if t > watermark:
            watermark = t
            if next_end is None:
                next_end = (s + 1) * second
            while next_end <= watermark:
                last = next_end // second - 1
                first = last - span + 1
                for k, kp in panes.items():
                    c = kp.get(last)
                    if c is not None:
                        append(encode(c_output(k, c[0])))
                    acc = None
                    for x in range(first, last + 1):
                        c = kp.get(x)
                        if c is not None:
                            acc = c[1] if acc is None else s_combine(acc, c[1])
                    if acc is not None:
                        append(encode(s_output(k, acc)))
                    kp.pop(first, None)
                next_end += second
    return watermark


LOOPS = {"functions": functions_loop, "inline": windows_loop}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--loop", choices=sorted(LOOPS), default="functions",
                   help="functions: every step through the user's functions (default); inline: the logic written out")
    opts = p.parse_args()
    with open(opts.input, "rb") as f:
        raw = f.read()
    size = 4 + 14
    payloads = [raw[i + 4:i + size] for i in range(0, len(raw), size)]
    del raw
    out = []
    gc.collect()
    c0, t0 = time.process_time(), time.monotonic()
    LOOPS[opts.loop](payloads, out)
    c1, t1 = time.process_time(), time.monotonic()
    with open(opts.out, "wb") as f:
        f.write(b"".join(out))
    print(json.dumps({"cpu_seconds": c1 - c0, "seconds": t1 - t0, "events": len(payloads), "outputs": len(out)}),
          flush=True)


if __name__ == "__main__":
    main()
