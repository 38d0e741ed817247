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
    """The worker owning `key` (FNV-1a of its bytes, as runtime/key_router.cpp)."""
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
    assert re.search(r"stopped: %d events in, %d outputs written, %d events failed"
                     % (len(texts), len([t for t in kept if owner(t) == 0]), len(lost)), c[0].stderr()), \
        c[0].stderr()
