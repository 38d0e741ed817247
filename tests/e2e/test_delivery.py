"""Nothing lost in silence: every event a worker read and could not deliver is counted, named with its step and
reason on one line at the stop, and the exit status is 1. A user function that raises is not such a loss (one warn
line, the event counted as failed, exit 0: see test_errors.py).
"""
import os
import re

import pytest

from conftest import frame, send_frames, wait_until

CLUSTER_APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cluster_apps")
UNPICKLABLE = os.path.join(CLUSTER_APPS, "unpicklable.py")


def owner(key, workers=2, key_groups=256):
    """The worker owning `key` (FNV-1a of its bytes, as src/state/key_group.cpp)."""
    h = 14695981039346656037
    for b in key.encode("utf-8"):
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return (h % key_groups) % workers


def last_error_line(text):
    lines = [l for l in text.splitlines() if " E roo." in l]
    return lines[-1] if lines else ""


@pytest.mark.parametrize("bad,raised", [
    ("key", r"key_by 'key_of' could not send its event to another worker: pickling the key raised \w+"),
    ("object", r"key_by 'key_of' could not send its event to another worker: pickling the event raised "
               r"ValueError: Unpicklable refuses to be pickled"),
])
def test_an_event_that_cannot_be_pickled_for_another_worker_is_counted_and_fails_the_exit(cluster, receiver, bad,
                                                                                           raised):
    out = receiver()
    c = cluster(UNPICKLABLE, 2, out.address, sources=["Src"], app_args=["--bad", bad], check_exit=False)
    texts = ["%s-%02d" % ("bad" if i % 3 == 0 else "ok", i) for i in range(60)]
    lost = [t for t in texts if t.startswith("bad") and owner(t) == 1]
    kept = [t for t in texts if t not in lost]
    assert lost and len(kept) > len(texts) // 2, "the keys do not exercise both workers"
    # Everything into the initializer: what worker1 owns must cross.
    send_frames(c[0].in_ports["Src"], [frame(t) for t in texts])
    assert out.wait_for(lambda r: len(r.lines()) >= len(kept), timeout=15), c.logs()
    out.wait_quiet(0.5)
    assert sorted(out.lines()) == sorted(kept)
    assert wait_until(lambda: re.search(raised, c[0].stderr()), 5), c[0].stderr()
    codes = c.stop(via=0, expect=None)
    assert codes == {"initializer": 1, "worker1": 0}, c.logs()
    reason = "the key" if bad == "key" else "the event"
    assert last_error_line(c[0].stderr()).endswith(
        "not everything was delivered: %d events (key_by 'key_of': %s cannot be pickled for another worker)"
        % (len(lost), reason)), c[0].stderr()
    assert re.search(r"stopped: %d events in, %d outputs written, %d events failed, 0 events not delivered$"
                     % (len(texts), len([t for t in kept if owner(t) == 0]), len(lost)), c[0].stderr(), re.M), \
        c[0].stderr()


def test_events_still_queued_when_the_drain_times_out_are_counted(workers, receiver, tmp_path):
    """20 ms per event, 600 events, a 5 s drain: the stop cannot finish them. Every event is either written or
    counted, in the delivery report and on the closing line; the stop takes the drain timeout, not twice that."""
    from conftest import APPS, free_port
    import signal
    import time
    drain = 5.0
    out = receiver()
    port = free_port()
    started = str(tmp_path / "started")
    worker = workers.spawn([workers.roo_bin, "run", "--drain-timeout", str(drain), os.path.join(APPS, "echo.py"),
                            "--in", "Echo@127.0.0.1:%d" % port, "--out", out.address, "--delay-ms", "20",
                            "--started-file", started])
    worker.wait_ready()
    events = ["ev-%03d" % i for i in range(600)]
    send_frames(port, [frame(e) for e in events])
    assert wait_until(lambda: os.path.exists(started), timeout=10)
    t0 = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait() == 1, worker.stderr()
    took = time.monotonic() - t0
    # It must wait for the drain, and not much longer (the bound is drain + 1 s; 0.5 s more for a loaded machine).
    assert drain - 0.5 < took < drain + 1.5, "the stop took %.1f s with a %.0f s drain timeout" % (took, drain)
    out.wait_quiet(0.3)
    written = out.lines()
    assert written == events[:len(written)]
    match = re.search(r"not everything was delivered: (\d+) events \(still queued when the drain timed out\)$",
                      last_error_line(worker.stderr()))
    assert match, worker.stderr()
    assert len(written) + int(match.group(1)) == len(events), (len(written), match.group(1))
    assert re.search(r"stopped: \d+ events in, %d outputs written, 0 events failed, %s events not delivered$"
                     % (len(written), match.group(1)), worker.stderr(), re.M), worker.stderr()
    assert "the drain timed out after 5000 ms; stopping with what is left" in worker.stderr()
