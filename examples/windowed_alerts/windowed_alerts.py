"""Windowed alerts: a 10-second average temperature per sensor, in event time, with an alert when it runs hot.

Each reading is a line "2026-11-30T10:00:03.250Z temp-1 71.5": when it was measured, the sensor, the temperature.
`with_event_time` takes each reading's time from the line itself, so windows hold what was measured in them, not
what happened to arrive then; readings reordered on the way (by up to 1.5 s here) still land in their window,
because each window waits 2 s past its end (`with_delay`) before it is output. The stream is keyed by sensor;
`range_windows(seconds(10))` makes tumbling 10-second windows per sensor over the `Temperature` aggregation, whose
output is an alert line when the window's average is above the threshold, and None (no output) otherwise.

The readings are replayed from readings.txt by a generator source (on the initializer, or a lone worker), so a run
is the same every time; a TCPSourceConfig in its place reads live readings unchanged.

Flags: --threshold T (degrees, default 75.0), --readings PATH (default readings.txt beside this file).

Run (see README.md):
    roo run examples/windowed_alerts/windowed_alerts.py --out 127.0.0.1:7002
"""
import argparse
import datetime
import os

import wallaroo

THRESHOLD_TENTHS = 750
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def application_setup(args):
    parser = argparse.ArgumentParser(prog="windowed_alerts")
    parser.add_argument("--threshold", type=float, default=75.0)
    parser.add_argument("--readings", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                           "readings.txt"))
    opts, _ = parser.parse_known_args(args)
    global THRESHOLD_TENTHS
    THRESHOLD_TENTHS = int(round(opts.threshold * 10))
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]

    lines = read_lines(opts.readings) if generates_here(args) else []
    readings = (wallaroo.source("Readings", wallaroo.GenSourceConfig("Readings", Replay(lines)))
                .with_event_time(measured_at))
    windows = (wallaroo.range_windows(wallaroo.seconds(10))
               .with_delay(wallaroo.seconds(2))
               .over(Temperature))
    pipeline = (readings
                .key_by(sensor_of)
                .to(windows)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_alert)))
    return wallaroo.build_application("Windowed alerts", pipeline)


def generates_here(args):
    """True on the cluster initializer, or on a worker started alone (no cluster flags)."""
    argv = list(getattr(wallaroo, "_ARGS", None) or args)
    if "--cluster-initializer" in argv or "-t" in argv:
        return True
    joining = ("--control", "-c", "--join", "-j")
    return not any(a in joining or a.startswith(("--control=", "--join=")) for a in argv)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


class Reading(object):
    def __init__(self, line, index):
        stamp, self.sensor, value = line.split()
        self.ms = parse_ms(stamp)
        self.tenths = int(round(float(value) * 10))
        self.index = index


class Replay(object):
    """The readings of `lines` in file order, then None (which ends the source)."""

    def __init__(self, lines):
        self.lines = lines

    def initial_value(self):
        return Reading(self.lines[0], 0) if self.lines else None

    def apply(self, previous):
        index = previous.index + 1
        return Reading(self.lines[index], index) if index < len(self.lines) else None


def parse_ms(stamp):
    """'2026-11-30T10:00:03.250Z' -> milliseconds since the epoch."""
    moment = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return (moment - EPOCH) // datetime.timedelta(milliseconds=1)


def measured_at(reading):
    """The reading's event time: int nanoseconds since the epoch."""
    return wallaroo.milliseconds(reading.ms)


@wallaroo.key_extractor
def sensor_of(reading):
    return reading.sensor


class Temperature(wallaroo.Aggregation):
    """Accumulator: [readings, total tenths, max tenths, earliest ms] (plain ints: checkpoints pickle it)."""

    def initial_accumulator(self):
        return [0, 0, None, None]

    def update(self, reading, acc):
        acc[0] += 1
        acc[1] += reading.tenths
        acc[2] = reading.tenths if acc[2] is None else max(acc[2], reading.tenths)
        acc[3] = reading.ms if acc[3] is None else min(acc[3], reading.ms)

    def combine(self, acc1, acc2):
        if acc1[0] == 0:
            return list(acc2)
        if acc2[0] == 0:
            return list(acc1)
        return [acc1[0] + acc2[0], acc1[1] + acc2[1], max(acc1[2], acc2[2]), min(acc1[3], acc2[3])]

    def output(self, sensor, acc):
        count, total, highest, earliest = acc
        if count == 0:
            return None
        average = (total * 2 + count) // (2 * count)   # tenths, rounded half up
        if average <= THRESHOLD_TENTHS:
            return None
        start = earliest - earliest % 10000             # the window's start: tumbling windows of 10 s
        return "ALERT %s %s-%s average %d.%d max %d.%d over %d readings" % (
            sensor, clock(start), clock(start + 10000), average // 10, average % 10, highest // 10, highest % 10,
            count)


def clock(ms):
    return (EPOCH + datetime.timedelta(milliseconds=ms)).strftime("%H:%M:%S")


@wallaroo.encoder
def encode_alert(alert):
    return (alert + "\n").encode("ascii")
