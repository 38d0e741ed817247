"""The windowed workload's input (deterministic) and the check of a system's output.

Input: N events 0.5 ms apart in event time from T0 = 2026-01-01 00:00:00 UTC (so 2,000 events in each second
and N / 2,000 seconds of event time, all in the past: a Roo source does not ignore times ahead of its clock).
In each second, every one of the 1,000 keys has one event, and 1,000 more events have keys drawn at random
(random.Random(SEED)), all shuffled: counts per key and second vary (1 + about Poisson(1)) while every key has an
event in every second (so an output can name its window from its largest event time, see logic.py). Values are
random in [0, 1000).

The expected result is computed here independently of every system: per key and second the count and the sum,
then every window [k s, k s + 1 s) (count) and [k s, k s + 10 s) (sum) that holds at least one event. A window
fires when the watermark (the largest event time seen) reaches its end; windows ending after the last event
never fire from the data (Bytewax emits them at the end of its input; they are ignored, see check()).
"""
import os
import random
import struct

import logic

T0 = 1_767_225_600 * logic.SECOND
STEP = 500_000          # ns between two events
PER_SECOND = logic.SECOND // STEP
SEED = 11
EVENTS = 1_000_000
QUICK_EVENTS = 200_000
FRAME = struct.Struct(">IQHI")


def records(n):
    """The (event time ns, key id, value) of the n events, in order."""
    rng = random.Random(SEED)
    keys_n = len(logic.KEYS)
    out = []
    i = 0
    while i < n:
        keys = list(range(keys_n)) + [rng.randrange(keys_n) for _ in range(PER_SECOND - keys_n)]
        rng.shuffle(keys)
        for k in keys:
            if i == n:
                break
            out.append((T0 + i * STEP, k, rng.randrange(1000)))
            i += 1
    return out


def make(out_dir, n):
    """Writes the frames file once (u32 BE 14 | u64 BE time | u16 BE key | u32 BE value); returns its path."""
    path = os.path.join(out_dir, "windows_events_%d.msg" % n)
    if not os.path.exists(path) or os.path.getsize(path) != FRAME.size * n:
        pack = FRAME.pack
        with open(path + ".tmp", "wb") as f:
            f.write(b"".join(pack(14, t, k, v) for t, k, v in records(n)))
        os.replace(path + ".tmp", path)
    return path


def expected(recs):
    """({(kind, key, window end ns): value} of every window holding an event, the last event time)."""
    panes = {}
    for t, k, v in recs:
        cell = panes.setdefault((logic.KEYS[k] if isinstance(k, int) else k, t // logic.SECOND), [0, 0])
        cell[0] += 1
        cell[1] += v
    want = {}
    span = logic.SLIDE_RANGE // logic.SECOND
    for (key, second), (count, total) in panes.items():
        want[(b"c", key, (second + 1) * logic.SECOND)] = count
        for end in range(second + 1, second + 1 + span):  # the sliding windows holding this second
            slot = (b"s", key, end * logic.SECOND)
            want[slot] = want.get(slot, 0) + total
    return want, max(t for t, _, _ in recs)


def parse(output):
    """[(kind, key, end, value)] of the output lines; ValueError on a line that is not one."""
    rows = []
    for line in output.split(b"\n"):
        if not line:
            continue
        kind, key, end, value = line.split(b" ")
        rows.append((kind, key.decode(), int(end), int(value)))
    return rows


def check(output, want, watermark):
    """None when `output` holds exactly the windows that end at or before `watermark` (the last event time), each
    once with its exact value; windows ending later may appear (fired at the end of the input or by idleness) but
    must be right too. Else what is wrong."""
    try:
        rows = parse(output)
    except ValueError:
        return "a line is not `KIND KEY END VALUE`: %r" % output[:200]
    seen = {}
    wrong = []
    for kind, key, end, value in rows:
        slot = (kind, key, end)
        if slot in seen:
            wrong.append("duplicate %s %s %d" % (kind.decode(), key, end))
        seen[slot] = value
        if want.get(slot) != value:
            wrong.append("%s %s %d = %d, want %s" % (kind.decode(), key, end, value, want.get(slot)))
    missing = [s for s in want if s[2] <= watermark and s not in seen]
    if missing or wrong:
        return "%d windows missing (first %r), %d lines wrong (first: %s)" % (
            len(missing), sorted(missing)[:1], len(wrong), wrong[:3])
    return None


def fired(want, watermark):
    """How many windows the data itself fires (end <= the last event time)."""
    return sum(1 for s in want if s[2] <= watermark)
