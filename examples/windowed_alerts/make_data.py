"""Writes readings.txt (the recorded sensor readings windowed_alerts.py replays) and expected.txt (its alerts).

Four sensors report a temperature about once a second for three minutes; temp-2 runs hot for a minute, temp-4
has a short spike, temp-1 and temp-3 each run warm for one window. The network reorders readings by up to 1.5 s
(less than the app's 2 s delay, so none is late). The alerts are computed here directly from the readings: per sensor and 10-second window of event time, the
average in tenths of a degree, rounded half up.
"""
import argparse
import datetime
import os

START = datetime.datetime(2026, 11, 30, 10, 0, 0, tzinfo=datetime.timezone.utc)
SENSORS = ("temp-1", "temp-2", "temp-3", "temp-4")
SECONDS = 180
WINDOW_S = 10
THRESHOLD_TENTHS = 750   # 75.0 degrees


def tenths(sensor_index, second):
    """A reading in tenths of a degree: a slow wave per sensor; temp-1 warm at 12-19 s, temp-2 hot from 40 s to
    100 s, temp-4 spiking at 130-134 s, temp-3 warm at 150-159 s."""
    wave = ((second * 7 + sensor_index * 13) % 37) - 18          # -18 .. 18
    value = 700 + sensor_index * 10 + wave
    if sensor_index == 1 and 40 <= second < 100:
        value += 80 + (second % 5) * 3
    if sensor_index == 3 and 130 <= second < 135:
        value += 250
    if sensor_index == 0 and 12 <= second < 20:
        value += 90
    if sensor_index == 2 and 150 <= second < 160:
        value += 40
    return value


def readings():
    """(arrival index, event time in ms since START, sensor, tenths), in arrival order."""
    items = []
    for second in range(SECONDS):
        for i, sensor in enumerate(SENSORS):
            at_ms = second * 1000 + (i * 250 + second * 37) % 1000
            # Every 7th reading of a sensor is held back by the network: it arrives 1.5 s later than its time.
            arrival = at_ms + (1500 if (second + i) % 7 == 0 else 0)
            items.append((arrival, at_ms, sensor, tenths(i, second)))
    items.sort()
    return items


def stamp(ms):
    t = START + datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def clock(ms):
    return (START + datetime.timedelta(milliseconds=ms)).strftime("%H:%M:%S")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", default=here)
    opts = parser.parse_args()
    items = readings()
    windows = {}
    with open(os.path.join(opts.out_dir, "readings.txt"), "w") as f:
        for _arrival, at_ms, sensor, value in items:
            f.write("%s %s %d.%d\n" % (stamp(at_ms), sensor, value // 10, value % 10))
            windows.setdefault((sensor, at_ms // (WINDOW_S * 1000)), []).append(value)
    with open(os.path.join(opts.out_dir, "expected.txt"), "w") as f:
        # Per sensor, windows in time order (the order one sensor's alerts come in).
        for (sensor, window), values in sorted(windows.items()):
            average = (sum(values) * 2 + len(values)) // (2 * len(values))   # tenths, rounded half up
            if average > THRESHOLD_TENTHS:
                start = window * WINDOW_S * 1000
                f.write("ALERT %s %s-%s average %d.%d max %d.%d over %d readings\n" % (
                    sensor, clock(start), clock(start + WINDOW_S * 1000), average // 10, average % 10,
                    max(values) // 10, max(values) % 10, len(values)))


if __name__ == "__main__":
    main()
