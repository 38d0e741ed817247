"""The windowed workload's user logic: decode, key, event time, the two aggregations and the output encoding.

One place for the logic every system runs (bench/windows/README section in bench/README.md):
- the Roo app (app.py) wraps these functions with the `wallaroo` decorators and the aggregations are its
  `range_windows(...).over(...)` arguments;
- the ceiling (ceiling.py) and the Bytewax dataflow (bytewax_windows.py) call decode, key_of and encode_line.

An event is a 14-byte payload `u64 BE event time (ns since the epoch) | u16 BE key id | u32 BE value`, framed by
a u32 BE length (18 bytes a frame). Two aggregations per key:
- `c`: a 1 s tumbling count;
- `s`: a 10 s sliding sum of the values, sliding by 1 s.
An output is one line `KIND KEY WINDOW_END_NS VALUE` (for example `c k042 1767225601000000000 3`).
"""
import struct

SECOND = 1_000_000_000
TUMBLE = SECOND              # the `c` windows: [k s, k s + 1 s)
SLIDE_RANGE = 10 * SECOND    # the `s` windows: [k s, k s + 10 s)
SLIDE = SECOND
KEYS = ["k%03d" % i for i in range(1000)]
_unpack = struct.Struct(">QHI").unpack


def decode(payload):
    """(event time ns, key, value)."""
    t, k, v = _unpack(payload)
    return (t, KEYS[k], v)


def key_of(event):
    return event[1]


def event_time(event):
    return event[0]


def encode_line(kind, key, end, value):
    return b"%s %s %d %d\n" % (kind, key.encode(), end, value)


# ---------------------------------------------------------------- Roo's aggregations (Wallaroo's Aggregation API)
#
# Wallaroo's output(key, acc) is not told which window it closes, so each accumulator also keeps the largest event
# time it saw: the window ends at the end of that event's second. That is exact whenever a key has an event in
# the last second of each window, which the benchmark's input guarantees (data.py: every key in every second).
# For the latency runs (random keys, wall-clock times) a key without an event in a window's last second would get
# an end too early, which can only make a latency larger, never smaller.

def _end_of(t):
    return (t // SECOND + 1) * SECOND


class Count(object):
    """Events per window: the accumulator is [count, largest event time]."""

    def name(self):
        return "Count"

    def initial_accumulator(self):
        return [0, 0]

    def update(self, event, acc):
        acc[0] += 1
        if event[0] > acc[1]:
            acc[1] = event[0]

    def combine(self, a, b):
        return [a[0] + b[0], a[1] if a[1] > b[1] else b[1]]

    def output(self, key, acc):
        return (b"c", key, _end_of(acc[1]), acc[0])


class Sum(object):
    """The sum of the values per window: the accumulator is [sum, largest event time]."""

    def name(self):
        return "Sum"

    def initial_accumulator(self):
        return [0, 0]

    def update(self, event, acc):
        acc[0] += event[2]
        if event[0] > acc[1]:
            acc[1] = event[0]

    def combine(self, a, b):
        return [a[0] + b[0], a[1] if a[1] > b[1] else b[1]]

    def output(self, key, acc):
        return (b"s", key, _end_of(acc[1]), acc[0])


def encode_output(out):
    kind, key, end, value = out
    return b"%s %s %d %d\n" % (kind, key.encode(), end, value)
