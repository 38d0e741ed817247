"""One windowed app for tests/e2e/test_windows.py: every window form and policy, on TCP, generator or Kafka input.

An event is the text "key,t,v": a key, its event time t in milliseconds since the epoch and an int value. The
stream is keyed by the key (or, with --unkeyed, not keyed at all) and goes through one window stage over the
aggregation `Collect`, whose accumulator is the list of [t, v] of the window's events; its output is the line

    <key> [<t> <t> ...] sum=<sum of v>          (the times sorted; "*" instead of the key with --unkeyed)

so a test can tell exactly which events each output window held. Output goes to the TCP sink (--out).

Flags (after the Wallaroo ones; times in milliseconds):
  --window range|count|session (range)
  --range R (10000)  --slide S (= range)  --delay D (0)  --gap G (5000)  --count N (3)
  --policy drop|fire-per-message|place-in-oldest-window (drop)
  --unkeyed                  windows on the unkeyed stream (the source's initial key)
  --event-time data|ingest|kafka (data): data = with_event_time(fn) taking t from the event; ingest = no
                             with_event_time (the wall clock); kafka = with_event_time() without fn (the message's
                             own timestamp, which the message value's t then repeats)
  --idleness I (60000)       --max-ahead A (10000, or "none": no cap)
  --source tcp|gen|kafka (tcp): tcp = TCPSourceConfig "Events" (--in Events@host:port); gen = a generator on the
                             initializer (or a lone worker) only; kafka = CustomKafkaSourceCLIParser (its flags)
  --gen-keys K (3)  --gen-count N (300)  --gen-step S (1000): generated event i is key "k<i % K>", t = i * S, v = i
  --gen-pause-every E (0)  --gen-pause-ms M (0): the generator sleeps M ms every E events
  --slow-ms M (0)            the aggregation's update sleeps M ms per event (backpressure)
  --trace PATH               Kafka: the decoder appends "<message key> <time.monotonic()>" per message to PATH
  --stuck-output KEY         the aggregation's output never returns for KEY (a stuck step while windows fire)
  --slow-output KEY:MS       the aggregation's output sleeps MS the first time it is called for KEY
  --gc-report                each output line ends with " gc_output=<gc.isenabled() in output()>
                             gc_update=<the values gc.isenabled() had in update() since the last output>"
  --gc-disabled              the app calls gc.disable() at setup
"""
import argparse
import gc
import time

import wallaroo

OPTS = None
EVENT_TIME_NS = 1000000  # t is in ms


def application_setup(args):
    global OPTS
    parser = argparse.ArgumentParser(prog="windowed")
    parser.add_argument("--window", default="range", choices=("range", "count", "session"))
    parser.add_argument("--range", type=int, default=10000)
    parser.add_argument("--slide", type=int, default=None)
    parser.add_argument("--delay", type=int, default=0)
    parser.add_argument("--gap", type=int, default=5000)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--policy", default="drop")
    parser.add_argument("--unkeyed", action="store_true")
    parser.add_argument("--event-time", default="data", choices=("data", "ingest", "kafka"))
    parser.add_argument("--idleness", type=int, default=60000)
    parser.add_argument("--max-ahead", default="10000")
    parser.add_argument("--source", default="tcp", choices=("tcp", "gen", "kafka"))
    parser.add_argument("--gen-keys", type=int, default=3)
    parser.add_argument("--gen-count", type=int, default=300)
    parser.add_argument("--gen-step", type=int, default=1000)
    parser.add_argument("--gen-pause-every", type=int, default=0)
    parser.add_argument("--gen-pause-ms", type=float, default=0.0)
    parser.add_argument("--slow-ms", type=float, default=0.0)
    parser.add_argument("--trace", default=None)
    parser.add_argument("--stuck-output", default=None, help="output() never returns for this key")
    parser.add_argument("--slow-output", default=None, help="KEY:MS: output() sleeps MS once for KEY")
    parser.add_argument("--gc-report", action="store_true")
    parser.add_argument("--gc-disabled", action="store_true")
    OPTS, _ = parser.parse_known_args(args)
    if OPTS.gc_disabled:
        gc.disable()

    if OPTS.source == "tcp":
        _name, host, port = wallaroo.tcp_parse_input_addrs(args)[0]
        config = wallaroo.TCPSourceConfig("Events", host, port, decode)
    elif OPTS.source == "gen":
        count = OPTS.gen_count if generates_here(args) else 0
        config = wallaroo.GenSourceConfig("Events", EventGenerator(count))
    else:
        config = wallaroo.CustomKafkaSourceCLIParser(args, decode_message)
    events = wallaroo.source("Events", config)
    if OPTS.event_time == "data":
        events = events.with_event_time(event_time, idleness=wallaroo.milliseconds(OPTS.idleness),
                                        max_ahead=max_ahead())
    elif OPTS.event_time == "kafka":
        events = events.with_event_time(idleness=wallaroo.milliseconds(OPTS.idleness), max_ahead=max_ahead())
    if not OPTS.unkeyed:
        events = events.key_by(key_of)
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    pipeline = events.to(windows()).to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_line))
    return wallaroo.build_application("Windowed", pipeline)


def max_ahead():
    return None if OPTS.max_ahead == "none" else wallaroo.milliseconds(int(OPTS.max_ahead))


def windows():
    ms = wallaroo.milliseconds
    if OPTS.window == "count":
        return wallaroo.count_windows(OPTS.count).over(Collect)
    if OPTS.window == "session":
        builder = wallaroo.session_windows(ms(OPTS.gap))
    else:
        builder = wallaroo.range_windows(ms(OPTS.range))
        if OPTS.slide is not None:
            builder = builder.with_slide(ms(OPTS.slide))
    if OPTS.delay:
        builder = builder.with_delay(ms(OPTS.delay))
    return builder.with_late_data_policy(OPTS.policy).over(Collect)


def generates_here(args):
    """True on the cluster initializer, or on a worker started alone (no cluster flags)."""
    argv = list(getattr(wallaroo, "_ARGS", None) or args)
    if "--cluster-initializer" in argv or "-t" in argv:
        return True
    joining = ("--control", "-c", "--join", "-j")
    return not any(a in joining or a.startswith(("--control=", "--join=")) for a in argv)


class EventGenerator(object):
    """Events 0 .. count-1 as text (see the module docstring), then None."""

    def __init__(self, count):
        self.count = count

    def initial_value(self):
        return self.event(0) if self.count > 0 else None

    def apply(self, previous):
        i = int(previous.split(",")[2]) + 1
        if i >= self.count:
            return None
        if OPTS.gen_pause_every and i % OPTS.gen_pause_every == 0 and OPTS.gen_pause_ms:
            time.sleep(OPTS.gen_pause_ms / 1000.0)
        return self.event(i)

    @staticmethod
    def event(i):
        return "k%d,%d,%d" % (i % OPTS.gen_keys, i * OPTS.gen_step, i)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(data):
    return data.decode("utf-8")


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_message(data, key):
    if OPTS.trace:
        with open(OPTS.trace, "a") as f:
            f.write("%s %.6f\n" % (key.decode() if key else "-", time.monotonic()))
    return data.decode("utf-8")


def event_time(event):
    return int(event.split(",")[1]) * EVENT_TIME_NS


@wallaroo.key_extractor
def key_of(event):
    return event.split(",")[0]


GC_IN_UPDATE = set()  # --gc-report: gc.isenabled() in update() since the last output
SLOWED = set()        # --slow-output: the keys already slowed


class Collect(wallaroo.Aggregation):
    """The window's events as [[t, v], ...]."""

    def initial_accumulator(self):
        return []

    def update(self, event, acc):
        if OPTS.slow_ms:
            time.sleep(OPTS.slow_ms / 1000.0)
        _key, t, v = event.split(",")
        acc.append([int(t), int(v)])
        if OPTS.gc_report:
            GC_IN_UPDATE.add(gc.isenabled())

    def combine(self, acc1, acc2):
        return acc1 + acc2

    def output(self, key, acc):
        while key == OPTS.stuck_output:
            time.sleep(3600)
        if OPTS.slow_output and key == OPTS.slow_output.split(":")[0] and key not in SLOWED:
            SLOWED.add(key)
            time.sleep(int(OPTS.slow_output.split(":")[1]) / 1000.0)
        times = " ".join(str(t) for t in sorted(t for t, _v in acc))
        line = "%s [%s] sum=%d" % ("*" if OPTS.unkeyed else key, times, sum(v for _t, v in acc))
        if OPTS.gc_report:
            line += " gc_output=%s gc_update=%s" % (gc.isenabled(), sorted(GC_IN_UPDATE))
            GC_IN_UPDATE.clear()
        return line


@wallaroo.encoder
def encode_line(line):
    return (line + "\n").encode("utf-8")
