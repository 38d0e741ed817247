"""Growing and shrinking a running cluster whose app has windows (issue 16; docs/cluster.md, "Growing and
shrinking a running cluster"; docs/windows.md).

Real workers, real sockets. The app is window_apps/windowed.py: an event "key,t,v" (t in ms of event time) is keyed
by its key and goes through one window stage whose output line names the key, the sorted times of the window's
events and the sum of their values. All input goes to the initializer over one connection, each phase's times in
order, so no event is late whatever the batching (test_windows.py's rule). Between phases the cluster grows 1 -> 2
(a joiner takes half the key groups, with their open windows) and shrinks 2 -> 1 (the joiner hands them back and
exits 0); a last event far ahead in event time fires every window of the data keys. (A second input started in the
middle of a stream is not used: an input holds nothing back until its first event, so its first events may be late
whatever the cluster does; docs/windows.md.)

The oracle: the output lines are exactly the windows worked out from the events sent (window_lines): every window
of every key output once, with every one of its events (nothing lost, nothing fired twice, no window left behind on
a worker that gave its key away), and no late event on any worker.
"""
import pytest

from test_rescale import EXIT_TIMEOUT, RESCALE_TIMEOUT, ctl
from test_windows import STOPPED, WINDOWED, Feed

KEYS = ["k%02d" % i for i in range(20)]
STEP = 5  # ms between events: each key has one every 100 ms


def events(start, end):
    """Events of times start, start + STEP, ... < end, the keys in turn."""
    return [(KEYS[(t // STEP) % len(KEYS)], t) for t in range(start, end, STEP)]


def window_lines(sent, form, until):
    """The lines the window stage must output for `sent` [(key, t)] by the time the watermark reaches `until`."""
    by_key = {}
    for key, t in sent:
        by_key.setdefault(key, []).append(t)
    lines = []
    for key, times in by_key.items():
        if form["window"] == "session":
            sessions, current = [], [times[0]]
            for t in times[1:]:
                if t - current[-1] > form["gap"]:
                    sessions.append(current)
                    current = []
                current.append(t)
            sessions.append(current)
            windows = [s for s in sessions if s[-1] + form["gap"] <= until]
        else:
            size, slide = form["range"], form.get("slide", form["range"])
            starts = range(((min(times) - size) // slide + 1) * slide, max(times) + 1, slide)
            windows = [[t for t in times if w <= t < w + size] for w in starts if w + size <= until]
        for held in windows:
            if held:
                lines.append("%s [%s] sum=%d" % (key, " ".join(str(t) for t in sorted(held)), len(held)))
    return lines


def flags(form):
    out = ["--window", form["window"]]
    for name in ("range", "slide", "gap"):
        if name in form:
            out += ["--%s" % name, str(form[name])]
    return out


FORMS = {
    "tumbling": {"window": "range", "range": 1000},
    "sliding": {"window": "range", "range": 1000, "slide": 250},
    "session": {"window": "session", "gap": 300},
}


def rescaled(c, text, timeout=RESCALE_TIMEOUT):
    assert c[0].wait_for_log(text, timeout), c.logs()


@pytest.mark.parametrize("name", sorted(FORMS))
def test_windows_grow_and_shrink_with_their_keys(cluster, receiver, roo_bin, name):
    """1 -> 2 -> 1 workers between three phases of input, windows open across every rescale: the outputs are exactly
    the windows of the input, and nothing is late."""
    form = FORMS[name]
    out = receiver()
    c = cluster(WINDOWED, 1, out.address, sources=["Events"], app_args=flags(form))
    feed = Feed(c.in_addresses("Events")[0])
    sent = []

    def phase(start, end):
        batch = events(start, end)
        feed.send(*["%s,%d,1" % (key, t) for key, t in batch])
        sent.extend(batch)

    # Sessions end at a phase's last event: a gap longer than theirs separates phases.
    phase(0, 3000)
    fired = window_lines(sent, form, 2995)  # fired here before the grow; the rest stay open across it
    out.wait_for(lambda r: len(r.lines()) >= len(fired), 20)
    c.join("worker1")
    rescaled(c, "cluster: rescale 1 done")
    phase(3500, 6500)
    fired = window_lines(sent, form, 6495)  # due once the last event sent is processed: its windows stay open
    out.wait_for(lambda r: len(r.lines()) >= len(fired), 20)
    done = ctl(roo_bin, "shrink", "-e", c[0].external, "--workers", "worker1")
    assert (done.returncode, done.stdout, done.stderr) == (0, "shrinking: worker1 will leave (1 worker)\n", ""), \
        c.logs()
    assert c[1].worker.wait(EXIT_TIMEOUT) == 0, c.logs()
    phase(7000, 10000)
    feed.send("flush,%d,1" % 20000)
    expected = window_lines(sent, form, 20000)
    out.wait_for(lambda r: len(r.lines()) >= len(expected), 30)
    out.wait_quiet(0.5)
    missing = sorted(set(expected) - set(out.lines()))
    extra = sorted(set(out.lines()) - set(expected))
    assert sorted(out.lines()) == sorted(expected), \
        "missing %s\nextra %s\n%s" % (missing[:5], extra[:5], c.logs())
    feed.close()
    c.stop(via=0)
    for m in c.members:  # the leaver's stop line too
        late = STOPPED.findall(m.stderr())
        assert late and int(late[-1]) == 0, "late events on %s:\n%s" % (m.name, m.stderr())
