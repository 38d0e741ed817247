"""Windows and event time end to end (issue 11; docs/windows.md): real `roo run` processes on 1, 2 and 3 workers.

The app is window_apps/windowed.py: an event is the text "key,t,v" (t: its event time in ms since the epoch, taken
by `with_event_time(fn)` unless a test says otherwise), keyed by its key, through one window stage whose output
line names the key, the sorted times of the window's events and the sum of their values, e.g. "a [1000 9999]
sum=4". Every expected output below is worked out by hand in the test (the windows an event belongs to are in the
comments), and a cluster of 1, 2 or 3 workers must give exactly those lines.

How the tests stay deterministic: all TCP input goes to the initializer over one connection (the other workers'
TCP sources have no input, so they hold nothing back), and within a phase every event's time is at least the
previous one's, so no event can be late whatever the batching. A test that wants late events sends them in a
later phase, after the window they belong to was output (and 0.3 s more, for the watermark to reach every
worker). Idleness is 60 s unless a test is about idleness, so a pause between phases moves nothing.

Env: ROO_FAULT_ROUNDS (kill -9 rounds of the crash test; CI default 2), ROO_FAULT_SEED.
"""
import os
import random
import re
import signal
import socket
import sys
import time

import pytest

from conftest import connect, frame, wait_until

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "window_apps")
WINDOWED = os.path.join(APPS, "windowed.py")
INVALID = os.path.join(APPS, "invalid_windows.py")
SIZES = [1, 2, 3]
STAGE = {"range": "range_windows over Collect", "count": "count_windows over Collect",
         "session": "session_windows over Collect"}
STOPPED = re.compile(r"stopped: .*, (\d+) late events")


# ------------------------------------------------------------------------------------------------------ helpers

class Feed(object):
    """One TCP connection to a source, kept open between phases (closing it would end that input)."""

    def __init__(self, address):
        host, port = address
        self.sock = connect(port, host)

    def send(self, *events):
        self.sock.sendall(b"".join(frame(e) for e in events))

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.sock.close()


def start(cluster, receiver, size, *flags, tcp=True, **options):
    """A cluster of `size` workers of windowed.py with `flags`, its receiver and a Feed to the initializer's TCP
    source (None with tcp=False: the app reads Kafka). `options` go to the cluster fixture (run_flags, ...)."""
    out = receiver()
    c = cluster(WINDOWED, size, out.address, sources=["Events"] if tcp else [], app_args=list(flags), **options)
    return c, out, (Feed(c.in_addresses("Events")[0]) if tcp else None)


def wait_lines(out, expected, c, timeout=20.0):
    """Wait until `expected` (a list) arrived, then a quiet moment; assert the lines are exactly those."""
    out.wait_for(lambda r: len(r.lines()) >= len(expected), timeout)
    out.wait_quiet(0.4)
    assert sorted(out.lines()) == sorted(expected), c.logs()


def stop_and_count_late(c):
    """Stop the cluster (every worker exits 0) and return the late events their stop lines report, summed."""
    c.stop()
    late = 0
    for m in c.members:
        found = STOPPED.findall(m.stderr())
        assert found, "no stop line with late events from %s:\n%s" % (m.name, m.stderr())
        late += int(found[-1])
    return late


LATE_WORDS = {"drop": "dropped", "fire-per-message": "fired one by one",
              "place-in-oldest-window": "placed in the oldest open window"}


def late_lines(c, stage, policy):
    """The counts in the late-events log lines of `stage` ("<stage>: N late events <what the policy did> so far")."""
    line = re.compile(r"W roo\.window \S+: %s: (\d+) late events? %s so far$" % (re.escape(stage),
                                                                              re.escape(LATE_WORDS[policy])),
                      re.MULTILINE)
    return [int(n) for m in c.members for n in line.findall(m.stderr())]


def now_ms():
    return int(time.time() * 1000)


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


# ---------------------------------------------------------------------------------------- Wallaroo's window forms
#
# A scenario: the app's flags, the input in phases (a phase is sent at once; the next one after the previous one's
# outputs arrived and 0.3 s more) and the lines each phase adds, worked out by hand (the comments give the windows),
# and the late events. test_hand_worked_scenarios_agree_with_the_reference checks every one against the offline
# reference (window_reference.py) as well.

class Scenario(object):
    def __init__(self, kind, flags, phases, expected, late=0, reference=None):
        self.kind = kind                  # "range", "count" or "session"
        self.flags = list(flags)
        self.phases = phases              # [[event, ...], ...]
        self.expected = expected          # per phase, the lines it adds
        self.late = late
        self.reference = reference or {}  # the reference's parameters (ms)


# Tumbling 10 s windows [k*10000, (k+1)*10000), aligned to the epoch (floor division, also below 0). The last event
# (z at 100000) moves the watermark past every window before it; its own window stays open.
TUMBLING_INPUT = ["a,-1500,100", "a,1000,1", "b,2000,2", "a,9999,3", "a,10000,4", "b,15000,5", "a,25000,6",
                  "b,31000,7", "z,100000,0"]
TUMBLING = Scenario("range", ["--range", "10000"], [TUMBLING_INPUT], [[
    "a [-1500] sum=100",          # [-10000, 0)
    "a [1000 9999] sum=4",        # [0, 10000): 9999 is the window's last ms
    "b [2000] sum=2",
    "a [10000] sum=4",            # [10000, 20000): 10000 starts it
    "b [15000] sum=5",
    "a [25000] sum=6",            # [20000, 30000)
    "b [31000] sum=7"]],          # [30000, 40000)
    reference={"wrange": 10000})
TUMBLING_UNKEYED = Scenario("range", ["--range", "10000", "--unkeyed"], [TUMBLING_INPUT], [[
    "* [-1500] sum=100", "* [1000 2000 9999] sum=6", "* [10000 15000] sum=9", "* [25000] sum=6", "* [31000] sum=7"]],
    reference={"wrange": 10000})

# range 10 s, slide 5 s: windows [k*5000, k*5000 + 10000); each event is in two of them. No output for a window
# without events.
SLIDING = Scenario("range", ["--range", "10000", "--slide", "5000"],
                   [["a,1000,1", "b,4000,10", "a,6000,2", "a,12000,3", "z,40000,0"]], [[
                       "a [1000] sum=1",            # [-5000, 5000)
                       "a [1000 6000] sum=3",       # [0, 10000)
                       "a [6000 12000] sum=5",      # [5000, 15000)
                       "a [12000] sum=3",           # [10000, 20000)
                       "b [4000] sum=10",           # [-5000, 5000)
                       "b [4000] sum=10"]],         # [0, 10000)
                   reference={"wrange": 10000, "slide": 5000})


def far_sliding(base):
    """Event times of today, windows aligned to the epoch: range 3 s, slide 1 s, so each event is in three windows,
    the first of which started before the key's first event. None is late."""
    t = [base + 500, base + 1500, base + 2500]
    return Scenario("range", ["--range", "3000", "--slide", "1000"],
                    [["a,%d,1" % t[0], "a,%d,2" % t[1], "a,%d,3" % t[2], "z,%d,0" % (base + 100000)]], [[
                        "a [%d] sum=1" % t[0],                     # [base-2000, base+1000)
                        "a [%d %d] sum=3" % (t[0], t[1]),          # [base-1000, base+2000)
                        "a [%d %d %d] sum=6" % tuple(t),           # [base, base+3000)
                        "a [%d %d] sum=5" % (t[1], t[2]),          # [base+1000, base+4000)
                        "a [%d] sum=3" % t[2]]],                   # [base+2000, base+5000)
                    reference={"wrange": 3000, "slide": 1000})


def range_late(policy):
    """Tumbling 10 s, delay 5 s, so [0, 10000) fires when the watermark reaches 15000.
    Phase 1: a,5000 comes after a,14000 but is not late (its window has not fired); b,16000 fires [0, 10000).
    Phase 2 (late: all their windows fired): a,3000 (a has an open window, [10000, 20000)), b,2000 (so has b),
    c,1000 (c has none: place-in-oldest-window puts it into the stage's oldest unfired window, [10000, 20000)).
    Phase 3: z,100000 fires [10000, 20000)."""
    phase_2 = {"drop": [],
               "fire-per-message": ["a [3000] sum=6", "b [2000] sum=7", "c [1000] sum=8"],
               "place-in-oldest-window": []}[policy]
    phase_3 = {"drop": ["a [12000 14000] sum=5", "b [16000] sum=5"],
               "fire-per-message": ["a [12000 14000] sum=5", "b [16000] sum=5"],
               "place-in-oldest-window": ["a [3000 12000 14000] sum=11", "b [2000 16000] sum=12",
                                          "c [1000] sum=8"]}[policy]
    return Scenario("range", ["--range", "10000", "--delay", "5000", "--policy", policy],
                    [["a,1000,1", "a,12000,2", "a,14000,3", "a,5000,4", "b,16000,5"],
                     ["a,3000,6", "b,2000,7", "c,1000,8"],
                     ["z,100000,0"]],
                    [["a [1000 5000] sum=5"], phase_2, phase_3], late=3,
                    reference={"wrange": 10000, "delay": 5000, "late_data_policy": policy})


def sessions_late(policy):
    """gap 5 s. Phase 1: a's first session {1000, 3000} ends at 8000, so a,8000 (exactly at its end) starts a second
    one; b,20000 moves the watermark to 20000: a {1000 3000}, b {2000}, a {8000 9000} are output (b's {20000} stays
    open). Phase 2: a,2000 and a,13000 fall inside a's emitted sessions (closed until 14000), b,5000 inside b's
    (until 7000): late, never a second session overlapping an emitted one. a,16000 is not late: it starts a new
    session. place-in-oldest-window puts a late event into the key's oldest open session; a, with none yet (a,2000
    comes before a,16000), gets it fired on its own. Phase 3: z,100000 closes the open sessions."""
    phase_2 = {"drop": [],
               "fire-per-message": ["a [2000] sum=7", "b [5000] sum=9", "a [13000] sum=11"],
               "place-in-oldest-window": ["a [2000] sum=7"]}[policy]
    phase_3 = {"drop": ["a [16000] sum=10", "b [20000] sum=6"],
               "fire-per-message": ["a [16000] sum=10", "b [20000] sum=6"],
               "place-in-oldest-window": ["a [13000 16000] sum=21", "b [5000 20000] sum=15"]}[policy]
    return Scenario("session", ["--window", "session", "--gap", "5000", "--policy", policy],
                    [["a,1000,1", "b,2000,4", "a,3000,2", "a,8000,3", "a,9000,5", "b,20000,6"],
                     ["a,2000,7", "b,5000,9", "a,16000,10", "a,13000,11"],
                     ["z,100000,0"]],
                    [["a [1000 3000] sum=3", "b [2000] sum=4", "a [8000 9000] sum=8"], phase_2, phase_3], late=3,
                    reference={"gap": 5000, "late_data_policy": policy})


# gap 5 s, delay 3 s. a,2000 after b,8000 is not late (2000 + 5000 + 3000 > 8000): it joins a's session, which then
# ends at 7000 and fires at watermark 10000 (b,10000). Then a,1500 is late (a is closed until 7000).
SESSION_DELAY = Scenario("session", ["--window", "session", "--gap", "5000", "--delay", "3000"],
                         [["a,1000,1", "b,8000,2", "a,2000,3"], ["b,10000,4"], ["a,1500,5", "z,100000,0"]],
                         [[], ["a [1000 2000] sum=4"], ["b [8000 10000] sum=6"]], late=1,
                         reference={"gap": 5000, "delay": 3000})

POLICIES = ["drop", "fire-per-message", "place-in-oldest-window"]
FAR_BASE = 1796068800000      # 2026-12-01: the reference check's base for far_sliding (the e2e test uses today's)
SCENARIOS = dict([("tumbling", TUMBLING), ("tumbling unkeyed", TUMBLING_UNKEYED), ("sliding", SLIDING),
                  ("sliding far from the epoch", far_sliding(FAR_BASE)), ("session delay", SESSION_DELAY)] +
                 [("range late " + p, range_late(p)) for p in POLICIES] +
                 [("sessions late " + p, sessions_late(p)) for p in POLICIES])


def run_scenario(cluster, receiver, size, scenario):
    """Every phase in turn, each phase's lines exactly; then the stop lines' late count."""
    c, out, feed = start(cluster, receiver, size, *scenario.flags)
    so_far = []
    for i, (events, adds) in enumerate(zip(scenario.phases, scenario.expected)):
        if i > 0:
            time.sleep(0.3)       # the watermark that made the last phase's outputs reaches every worker
        feed.send(*events)
        so_far = so_far + adds
        if adds:
            wait_lines(out, so_far, c)
        else:
            out.wait_quiet(0.5)
            assert sorted(out.lines()) == sorted(so_far), c.logs()
    if scenario.late:
        # Late events are visible: the stage's log line (rate-limited, so it may count fewer) and the stop count.
        policy = scenario.reference.get("late_data_policy", "drop")
        assert wait_until(lambda: late_lines(c, STAGE[scenario.kind], policy), 5), c.logs()
        assert max(late_lines(c, STAGE[scenario.kind], policy)) <= scenario.late
    assert stop_and_count_late(c) == scenario.late


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", ["tumbling", "tumbling unkeyed", "sliding"])
def test_range_windows_tumbling_sliding_keyed_and_unkeyed(cluster, receiver, size, name):
    run_scenario(cluster, receiver, size, SCENARIOS[name])


def test_sliding_windows_aligned_far_in_the_past_make_nothing_late(cluster, receiver):
    run_scenario(cluster, receiver, 2, far_sliding((now_ms() // 1000) * 1000 - 600000))


@pytest.mark.parametrize("size", [1, 3])
@pytest.mark.parametrize("policy", POLICIES)
def test_range_windows_delay_and_late_data_policy(cluster, receiver, size, policy):
    run_scenario(cluster, receiver, size, range_late(policy))


@pytest.mark.parametrize("size", [1, 3])
@pytest.mark.parametrize("policy", POLICIES)
def test_session_windows_end_late_events_and_policies(cluster, receiver, size, policy):
    run_scenario(cluster, receiver, size, sessions_late(policy))


def test_session_windows_with_delay_take_events_until_end_plus_delay(cluster, receiver):
    run_scenario(cluster, receiver, 2, SESSION_DELAY)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_hand_worked_scenarios_agree_with_the_reference(name):
    """Offline: window_reference.py gives the hand-worked lines and late count of each scenario, both when the
    watermark moves after every event (each event its own batch) and when it moves only after each phase (a phase
    one batch): the outputs do not depend on how the runtime batches a phase."""
    import argparse
    import window_reference
    sys.path.insert(0, APPS)
    try:
        import windowed
    finally:
        sys.path.remove(APPS)
    scenario = SCENARIOS[name]
    windowed.OPTS = argparse.Namespace(unkeyed="--unkeyed" in scenario.flags, slow_ms=0, stuck_output=None,
                                       slow_output=None, gc_report=False)
    run = {"range": window_reference.run_range, "session": window_reference.run_session}[scenario.kind]
    for per_event in (True, False):
        items, highest, expected = [], None, []
        for events, adds in zip(scenario.phases, scenario.expected):
            for event in events:
                key, t, _v = event.split(",")
                items.append(("event", int(t), "*" if "--unkeyed" in scenario.flags else key, event))
                highest = int(t) if highest is None else max(highest, int(t))
                if per_event:
                    items.append(("watermark", highest))
            items.append(("watermark", highest))
            expected += adds
            result = run(list(items), windowed.Collect, **scenario.reference)
            assert sorted(output for _key, output, _time in result.outputs) == sorted(expected), (name, per_event)
        assert result.late == scenario.late


# ------------------------------------------------------------------------------------------------ count windows

@pytest.mark.parametrize("size", SIZES)
def test_count_windows_per_key_and_the_partial_flush_after_the_timeout(cluster, receiver, size):
    # count 3 per key; ingest time (count windows have no lateness). a fills two windows at once; a's seventh event
    # and b's two are partial windows, output 5 s (Wallaroo's timer) of wall clock after their first event.
    c, out, feed = start(cluster, receiver, size, "--window", "count", "--count", "3", "--event-time", "ingest")
    sent = time.monotonic()
    feed.send("a,1,1", "a,2,2", "b,3,3", "a,4,4", "a,5,5", "a,6,6", "b,7,7", "a,8,8", "a,9,9")
    full = ["a [1 2 4] sum=7", "a [5 6 8] sum=19"]
    wait_lines(out, full, c)
    assert time.monotonic() - sent < 4.0, "full count windows must not wait for the timeout"
    partial = ["a [9] sum=9", "b [3 7] sum=10"]
    out.wait_for(lambda r: len(r.lines()) >= 4, 20)
    waited = time.monotonic() - sent
    wait_lines(out, full + partial, c)
    assert waited >= 4.5, "partial windows output after %.1f s, before the 5 s timeout" % waited
    assert stop_and_count_late(c) == 0


def test_count_windows_on_an_unkeyed_stream(cluster, receiver):
    c, out, feed = start(cluster, receiver, 2, "--window", "count", "--count", "2", "--unkeyed")
    feed.send("a,1,1", "b,2,2", "c,3,3", "a,4,4", "b,5,5")
    wait_lines(out, ["* [1 2] sum=3", "* [3 4] sum=7"], c)
    wait_lines(out, ["* [1 2] sum=3", "* [3 4] sum=7", "* [5] sum=5"], c, timeout=20)
    assert stop_and_count_late(c) == 0


def test_ingest_time_windows_hold_every_event_once(cluster, receiver):
    # No with_event_time: the wall clock is the event time and the watermark. 300 ms windows: however the 12 events
    # fall into windows, each is output exactly once, within a few seconds.
    c, out, feed = start(cluster, receiver, 1, "--range", "300", "--event-time", "ingest")
    for i in range(12):
        feed.send("a,%d,1" % i)
        time.sleep(0.05)
    assert out.wait_for(lambda r: sum(int(line.rsplit("=", 1)[1]) for line in r.lines()) >= 12, 10), c.logs()
    out.wait_quiet(0.5)
    times = sorted(int(t) for line in out.lines() for t in line.split("[")[1].split("]")[0].split())
    assert times == list(range(12))
    assert stop_and_count_late(c) == 0


# ----------------------------------------------------------------------------------------------- validation

SETUP = "roo run: unable to set up application 'invalid_windows': WallarooParameterError: "


@pytest.mark.parametrize("case,message", [
    ("range 0", "range_windows(range): range must be an int of nanoseconds above 0 (e.g. wallaroo.seconds(10)), "
                "got 0"),
    ("slide 0", "range_windows with_slide(slide): slide must be an int of nanoseconds above 0 "
                "(e.g. wallaroo.seconds(1)), got 0"),
    ("slide above range", "range_windows slide (101) must not exceed the range (100)"),
    ("negative delay", "range_windows with_delay(delay): delay must be an int of nanoseconds, 0 or more "
                       "(e.g. wallaroo.seconds(1)), got -1"),
    ("unknown policy", "unknown late data policy 'keep': use one of drop, fire-per-message, place-in-oldest-window"),
    ("slide twice", "Only call `with_slide()` once per window specification."),
    ("count 0", "count_windows(count): count must be an int above 0 (events per window), got 0"),
    ("no combine", "Aggregation must have method 'combine'."),
    ("gap 0", "session_windows(gap): gap must be an int of nanoseconds above 0 (e.g. wallaroo.seconds(30)), got 0"),
    ("no over", "to(): range_windows(...) needs .over(AggregationClass) to make the windows a stage"),
    ("event time after key_by", "with_event_time() must come right after wallaroo.source(...), before any other "
                                "stage or merge(): wallaroo.source(name, config).with_event_time(fn)"),
    ("idleness 0", "with_event_time(idleness=...): idleness must be an int of nanoseconds above 0 "
                   "(e.g. wallaroo.seconds(2)), got 0"),
])
def test_invalid_window_specifications_are_one_line_at_start(roo_bin, case, message):
    from test_errors import assert_one_line, io_flags, run_setup
    code, lines = run_setup([roo_bin, "run", INVALID] + io_flags() + ["--case", case])
    assert code == 2
    assert_one_line(lines, SETUP + message)


# ------------------------------------------------------------------------------------- idleness and watermarks

def test_last_window_of_a_stopped_input_within_delay_plus_idleness(cluster, receiver):
    # idleness 1 s, delay 2 s: the input stops after a,19999 (the last ms of [10000, 20000)); the watermark then
    # moves with the wall clock from 19999 once the input is idle, so the window fires delay + idleness after the
    # last event (3 s), not before the input went idle and not never.
    c, out, feed = start(cluster, receiver, 1, "--range", "10000", "--delay", "2000", "--idleness", "1000")
    feed.send("a,1000,1", "a,12000,2", "a,19999,3")
    sent = time.monotonic()
    assert out.wait_for(lambda r: "a [12000 19999] sum=5" in r.lines(), 15), c.logs()
    waited = time.monotonic() - sent
    assert sorted(out.lines()) == ["a [1000] sum=1", "a [12000 19999] sum=5"]
    assert 2.5 <= waited <= 9.0, "the last window came %.2f s after the input stopped (expected ~3 s)" % waited
    c.stop()


def test_a_single_key_with_sparse_events_gets_its_final_result(cluster, receiver):
    # One key, a session (gap 5 s) per event, events far apart in event time and 0.4 s apart by the clock;
    # idleness 1 s: the last session is output although nothing follows it.
    c, out, feed = start(cluster, receiver, 2, "--window", "session", "--gap", "5000", "--idleness", "1000")
    for t in (1000, 60000, 120000):
        feed.send("solo,%d,%d" % (t, t // 1000))
        time.sleep(0.4)
    wait_lines(out, ["solo [1000] sum=1", "solo [60000] sum=60", "solo [120000] sum=120"], c, timeout=30)
    assert stop_and_count_late(c) == 0


@pytest.mark.parametrize("idle_first", ["a", "b"])
def test_when_every_input_is_idle_the_watermark_does_not_depend_on_which_went_idle_first(cluster, receiver,
                                                                                          idle_first):
    # Two connections to one source (two inputs), idleness 1 s, delay 1 s. Input A ends at 48000, input B at 12000.
    # Whichever sends its last event first, once both are idle the watermark moves on from 48000 (the largest time
    # of any input), so [40000, 50000) fires ~1 + 2 + 1 = 4 s after the last event, and nothing is late.
    c, out, feed_a = start(cluster, receiver, 2, "--range", "10000", "--delay", "1000", "--idleness", "1000")
    feed_b = Feed(c.in_addresses("Events")[0])
    feed_a.send("a,1000,1")
    feed_b.send("b,2000,2")
    time.sleep(0.2)
    if idle_first == "a":
        feed_a.send("a,48000,3")
        time.sleep(0.3)
        feed_b.send("b,12000,4")
    else:
        feed_b.send("b,12000,4")
        time.sleep(0.3)
        feed_a.send("a,48000,3")
    sent = time.monotonic()
    expected = ["a [1000] sum=1", "b [2000] sum=2", "b [12000] sum=4", "a [48000] sum=3"]
    assert out.wait_for(lambda r: "a [48000] sum=3" in r.lines(), 30), c.logs()
    waited = time.monotonic() - sent
    wait_lines(out, expected, c)
    assert 3.0 <= waited <= 10.0, "[40000, 50000) came %.2f s after the last event (expected ~4 s)" % waited
    assert stop_and_count_late(c) == 0


def test_an_event_a_day_ahead_does_not_make_later_events_late(cluster, receiver):
    # Event times a minute behind the wall clock; one event stamped a day ahead (max_ahead 10 s: it does not move
    # the watermark, but it is placed in its own window, which never fires here). Honest events after it are on
    # time.
    base = (now_ms() // 10000) * 10000 - 60000
    c, out, feed = start(cluster, receiver, 2, "--range", "10000")
    feed.send("a,%d,1" % (base + 1000), "x,%d,2" % (now_ms() + 86400000))
    time.sleep(0.5)
    feed.send("a,%d,3" % (base + 2000), "a,%d,4" % (base + 12000), "z,%d,0" % (base + 40000))
    wait_lines(out, ["a [%d %d] sum=4" % (base + 1000, base + 2000), "a [%d] sum=4" % (base + 12000)], c)
    assert stop_and_count_late(c) == 0


def test_event_time_an_hour_behind_the_wall_clock_leaves_the_worker_idle(cluster, receiver):
    # Windows open, nothing due: the worker must sleep until an event comes (no timer firing in the past, no
    # polling). Then the input goes idle (idleness 1 s) and the watermark moves with the clock toward a window due in
    # ~25 s: the worker sleeps until then too.
    base = (now_ms() // 60000) * 60000 - 3600000
    c, out, feed = start(cluster, receiver, 1, "--range", "30000", "--idleness", "60000")
    pid = c[0].pid
    feed.send("a,%d,1" % (base + 1000), "a,%d,2" % (base + 2000))
    time.sleep(1.0)
    before = cpu_seconds(pid)
    time.sleep(3.0)
    busy = cpu_seconds(pid) - before
    assert busy <= 0.15, "the worker used %.2f s of CPU in 3 s with nothing to do" % busy
    feed.send("a,%d,3" % (base + 31000))
    assert out.wait_for(lambda r: r.lines() == ["a [%d %d] sum=3" % (base + 1000, base + 2000)], 10), c.logs()
    c.stop()

    c, out, feed = start(cluster, receiver, 1, "--range", "30000", "--idleness", "1000")
    pid = c[0].pid
    feed.send("a,%d,1" % (base + 1000), "a,%d,2" % (base + 2000))
    time.sleep(2.0)                      # idle now: the watermark follows the clock, [base, base+30000) due in ~27 s
    before = cpu_seconds(pid)
    time.sleep(3.0)
    busy = cpu_seconds(pid) - before
    assert busy <= 0.15, "the worker used %.2f s of CPU in 3 s waiting for a window due later" % busy
    assert out.lines() == []
    c.stop()


# ------------------------------------------------------------------------------------------ Kafka partitions

def kafka_flags(kafka, topic):
    return ["--source", "kafka", "--event-time", "kafka", "--kafka_source_topic", topic, "--kafka_source_brokers",
            kafka.bootstrap]


def tumbling_expected(events, range_ms):
    """The lines of tumbling windows of `range_ms` per key over (key, t, v) events, none late (a direct sum)."""
    windows = {}
    for key, t, v in events:
        windows.setdefault((key, t // range_ms), []).append((t, v))
    return sorted("%s [%s] sum=%d" % (key, " ".join(str(t) for t, _v in sorted(items)), sum(v for _t, v in items))
                  for (key, _w), items in windows.items())


def longest_silence(trace_path):
    """{message key: the longest time (s) that key's partition delivered nothing while it had a backlog: between two
    of its messages, or from the first message of any partition to its own first}, from windowed.py's --trace."""
    seen = {}
    first = None
    with open(trace_path) as f:
        for line in f:
            key, at = line.split()
            first = float(at) if first is None else first
            seen.setdefault(key, []).append(float(at))
    return dict((key, max(b - a for a, b in zip([first] + times, times))) for key, times in seen.items())


@pytest.mark.parametrize("size", [1, 2])
def test_kafka_partition_with_a_backlog_is_not_idle_and_an_empty_one_does_not_hold_windows(kafka, cluster, receiver,
                                                                                           tmp_path, size):
    # Three partitions, the third never written. Partitions 0 and 1 each hold 100 events covering the same 100 s of
    # event time (Kafka timestamps an hour ago; the message key names the partition). The aggregation takes 8 ms per
    # event, so while one partition's fetched messages are worked through the other delivers nothing for longer than
    # the idleness (300 ms) although it has a backlog: it must not count as idle (its old-timestamped backlog would
    # then be late). Partition 2 is idle from the start and holds nothing back. Once both are read to the end, every
    # window closes.
    topic = kafka.unique_topic("win")
    kafka.create_topic(topic, partitions=3)
    base = (now_ms() // 100000) * 100000 - 3600000
    events, records = [], []
    for partition in (0, 1):
        for i in range(100):
            key, t, v = "k%d" % (i % 4), base + i * 1000 + partition, partition * 1000 + i
            events.append((key, t, v))
            records.append({"key": "p%d" % partition, "value": "%s,%d,%d" % (key, t, v), "partition": partition,
                            "timestamp": t})
    kafka.produce(topic, records)
    trace = str(tmp_path / "deliveries")
    c, out, _ = start(cluster, receiver, size, "--range", "10000", "--idleness", "300", "--slow-ms", "8",
                      "--trace", trace, *kafka_flags(kafka, topic), tcp=False)
    expected = tumbling_expected(events, 10000)
    wait_lines(out, expected, c, timeout=60)
    silence = longest_silence(trace)
    print("longest silence between two messages of a partition (s): %s" % silence)
    if size == 1:
        # The case under test happened: a partition with a backlog delivered nothing for longer than the idleness.
        assert max(silence.values()) > 0.3, silence
    assert stop_and_count_late(c) == 0


def test_an_event_whose_time_function_raises_is_counted_failed_and_the_rest_flows(cluster, receiver):
    c, out, feed = start(cluster, receiver, 1, "--range", "10000")
    feed.send("a,1000,1", "a,soon,2", "a,2000,3", "z,30000,0")
    wait_lines(out, ["a [1000 2000] sum=4"], c)
    err = c.members[0].stderr()
    assert re.search(r"W roo\.python initializer: event time function of source 'Events' raised ValueError: invalid "
                     r"literal for int\(\) with base 10: 'soon' \(windowed\.py:\d+\); event skipped \(1 so far\)",
                     err), err
    assert stop_and_count_late(c) == 0
    assert "stopped: 4 events in, 1 outputs written, 1 events failed, 0 events not delivered, 0 late events" in \
        c.members[0].stderr(), c.members[0].stderr()
    feed.close()


def test_an_output_that_never_returns_is_named_and_interrupted_by_sigterm(cluster, receiver):
    # The aggregation's output() runs when the watermark fires a window, outside any event: the watchdog must still
    # see it (named with its key) and a SIGTERM must still stop the worker in time, saying what was lost.
    c, out, feed = start(cluster, receiver, 1, "--range", "10000", "--stuck-output", "ks",
                         run_flags=["--stuck-step-warning", "1", "--drain-timeout", "3"], check_exit=False)
    feed.send("k1,1000,1", "ks,2000,2", "z,30000,0")  # z's event time fires [0, 10000) for k1 and ks
    m = c.members[0]
    assert m.wait_for_log("W roo.python initializer: range_windows over Collect has been running for 1 s on key "
                          "'ks' (--stuck-step-warning 1 s); it may never return", 10), m.stderr()
    started = time.monotonic()
    m.proc.send_signal(signal.SIGTERM)
    code = m.proc.wait(timeout=15)
    took = time.monotonic() - started
    err = m.stderr()
    assert code == 1, err
    assert took < 3 + 1.5, "SIGTERM took %.1f s with a stuck output\n%s" % (took, err)
    assert "stopping: interrupting range_windows over Collect, which has been running for" in err, err
    assert "range_windows over Collect raised in output(): StepInterrupted: the worker is stopping" in err, err
    assert "not everything was delivered: 1 event (range_windows over Collect did not return" in err, err
    feed.close()


# ------------------------------------------------------------------------------------------ a firing's latency

def test_a_firings_first_outputs_leave_before_its_last_is_computed(cluster, receiver):
    # 600 keys and then ks share the window [0, 10 s); ks's output() sleeps 3 s. The worker hands the outputs over
    # every 256 (PipelineRunner::window_outputs_per_hand_over), so the first 512 arrive while ks's call sleeps,
    # the other 89 after it.
    c, out, feed = start(cluster, receiver, 1, "--range", "10000", "--slow-output", "ks:3000")
    keys = ["k%03d" % i for i in range(600)] + ["ks"]
    feed.send(*["%s,1000,%d" % (k, i) for i, k in enumerate(keys)])
    feed.send("z,30000,0")  # fires [0, 10000) for every key but z
    sent = time.monotonic()
    out.wait_for(lambda r: len(r.lines()) >= 512, 10)
    took = time.monotonic() - sent
    assert len(out.lines()) == 512 and took < 2.5, (len(out.lines()), took, c.logs())
    wait_lines(out, ["%s [1000] sum=%d" % (k, i) for i, k in enumerate(keys)], c)
    assert stop_and_count_late(c) == 0
    feed.close()


@pytest.mark.parametrize("app_disabled", [False, True])
def test_collections_wait_while_windows_fire_and_the_apps_own_choice_stays(cluster, receiver, app_disabled):
    # A collection in the middle of a firing would hold its remaining outputs back: output() runs with the
    # collector off; update() sees it on again afterwards, unless the app itself turned it off.
    flags = ["--range", "10000", "--gc-report"] + (["--gc-disabled"] if app_disabled else [])
    c, out, feed = start(cluster, receiver, 1, *flags)
    feed.send("k1,1000,1")
    feed.send("k1,15000,2")  # fires [0, 10000)
    out.wait_for(lambda r: len(r.lines()) >= 1, 10)
    feed.send("k1,25000,3")  # fires [10000, 20000): its event was updated after the first firing
    update = "[%s]" % (not app_disabled)
    wait_lines(out, ["k1 [1000] sum=1 gc_output=False gc_update=%s" % update,
                     "k1 [15000] sum=2 gc_output=False gc_update=%s" % update], c)
    assert stop_and_count_late(c) == 0
    feed.close()


# ------------------------------------------------------------------------------------------------ crash, recover

CRASH_EVENTS = 2400           # generated events: key k<i % 3>, t = i * 100 ms, v = i: 24 windows of 10 s per key


def crash_expected():
    return tumbling_expected([("k%d" % (i % 3), i * 100, i) for i in range(CRASH_EVENTS)], 10000)


@pytest.mark.parametrize("size,app", [(1, "windowed"), (2, "windowed"), (2, "windowed_json")])
def test_crash_mid_window_and_recover_gives_the_outputs_of_a_run_without_the_crash(cluster, receiver, tmp_path,
                                                                                 size, app):
    """kill -9 (ROO_FAULT_ROUNDS times, default 2; the initializer or a random worker) mid-window with checkpoints
    every 100 ms and a generator source (replayed from its checkpointed position), restart with the same command:
    the set of output lines is exactly the fault-free run's (the TCP sink is at least once: lines after the last
    checkpoint repeat, so duplicates are removed first, as docs/resilience.md says). windowed_json: the same with the
    application's own (JSON) serialize/deserialize, which could not represent window state."""
    from test_resilience_cluster import Restarts
    rounds = int(os.environ.get("ROO_FAULT_ROUNDS", "2"))
    seed = int(os.environ.get("ROO_FAULT_SEED", random.randrange(1 << 30)))
    print("window crash test: ROO_FAULT_ROUNDS=%d ROO_FAULT_SEED=%d" % (rounds, seed))
    rng = random.Random(seed)
    expected = crash_expected()
    ckpt = tmp_path / "ck"
    ckpt.mkdir()
    out = receiver()
    # 240 pauses of 25 ms: the stream lasts ~6 s, so the kills land mid-window.
    c = cluster(os.path.join(os.path.dirname(WINDOWED), app + ".py"), size, out.address, app_args=[
        "--source", "gen", "--gen-keys", "3", "--gen-count", str(CRASH_EVENTS), "--gen-step", "100",
        "--gen-pause-every", "10", "--gen-pause-ms", "25"],
        run_flags=["--checkpoint-dir", str(ckpt), "--checkpoint-interval", "100ms"])
    r = Restarts(c)
    for n in range(rounds):
        target = len(expected) * (n + 1) // (rounds + 2)
        assert out.wait_for(lambda o: len(set(o.lines())) >= target, 60), r.logs()
        time.sleep(rng.uniform(0.0, 0.2))
        victim = rng.randrange(size)
        r.kill(victim)
        m = r.restart(victim)
        r.wait_all_ready()
        assert m.wait_for_log("recovery from checkpoint", 30), r.logs()
    out.wait_for(lambda o: set(o.lines()) >= set(expected), 90)
    out.wait_quiet(0.5)
    got = set(out.lines())
    assert sorted(got) == expected, "missing %s, unexpected %s\n%s" % (
        sorted(set(expected) - got), sorted(got - set(expected)), r.logs())
    c.stop()
