"""Worker lifecycle: clean stops that drain in-flight events, a sink that appears late,
merged sources, and one stream to several sinks. Everything sent must arrive exactly
once (no loss, no duplicates), in order where one connection feeds one key.
"""
import os
import re
import signal
import threading
import time

import pytest

from conftest import APPS, Receiver, connect, frame, free_port, send_frames, wait_until

ECHO = os.path.join(APPS, "echo.py")


def texts(prefix, count):
    return ["%s-%05d" % (prefix, i) for i in range(count)]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_drains_in_flight_events(workers, receiver, signum, tmp_path):
    out = receiver()
    port = free_port()
    started = str(tmp_path / "started")
    # 2 ms per event keeps most of the 300 events inside the worker when the signal lands;
    # the app creates `started` when its computation sees the first event.
    worker = workers.run(ECHO, "--in", "Echo@127.0.0.1:%d" % port, "--out", out.address,
                         "--delay-ms", "2", "--started-file", started)
    events = texts("ev", 300)
    send_frames(port, [frame(e) for e in events])
    assert wait_until(lambda: os.path.exists(started), timeout=10)
    worker.send_signal(signum)
    arrived_at_signal = len(out.lines())
    assert worker.wait() == 0
    out.wait_for(lambda r: len(r.lines()) >= len(events), timeout=5)
    out.wait_quiet(0.2)
    assert arrived_at_signal < len(events), "nothing was in flight: the test proves nothing"
    assert out.lines() == events


def test_stop_with_idle_connection_open_exits_0(workers, receiver):
    out = receiver()
    port = free_port()
    worker = workers.run(ECHO, "--in", "Echo@127.0.0.1:%d" % port, "--out", out.address)
    idle = connect(port)
    idle.sendall(frame("one"))
    assert out.wait_for(lambda r: r.lines() == ["one"])
    assert worker.stop(signal.SIGTERM) == 0
    idle.close()


def test_sink_that_appears_late_gets_everything_once(workers):
    out_port, in_port = free_port(), free_port()
    worker = workers.run(ECHO, "--in", "Echo@127.0.0.1:%d" % in_port,
                         "--out", "127.0.0.1:%d" % out_port)
    events = texts("late", 20000)
    sender = threading.Thread(target=send_frames, args=(in_port, [frame(e) for e in events]),
                              daemon=True)
    sender.start()
    # No receiver yet: the worker keeps retrying the sink connection (every 250 ms) and
    # holds the events, pushing back on the source instead of dropping anything.
    time.sleep(0.8)
    assert worker.proc.poll() is None, worker.stderr()
    out = Receiver(out_port)
    try:
        out.wait_for(lambda r: len(r.lines()) >= len(events), timeout=20)
        out.wait_quiet(0.3)
        assert out.lines() == events
        sender.join(timeout=5)
        assert not sender.is_alive()
        assert worker.stop() == 0
    finally:
        out.close()


def test_two_sources_merged(workers, receiver):
    out = receiver()
    port_a, port_b = free_port(), free_port()
    worker = workers.run(ECHO, "--in", "A@127.0.0.1:%d,B@127.0.0.1:%d" % (port_a, port_b),
                         "--out", out.address)
    a_events, b_events = texts("a", 500), texts("b", 500)
    senders = [threading.Thread(target=send_frames, args=(port, [frame(e) for e in events]))
               for port, events in ((port_a, a_events), (port_b, b_events))]
    for t in senders:
        t.start()
    for t in senders:
        t.join(timeout=10)
    out.wait_for(lambda r: len(r.lines()) >= 1000)
    out.wait_quiet(0.3)
    lines = out.lines()
    assert sorted(lines) == sorted(a_events + b_events)
    # Each source's own stream keeps its order.
    assert [x for x in lines if x.startswith("a-")] == a_events
    assert [x for x in lines if x.startswith("b-")] == b_events
    assert worker.stop() == 0


def test_setup_objects_are_frozen_and_the_collector_still_runs(workers, receiver):
    # Everything alive after application_setup is gc.freeze()d, so a full collection walks only what the stream
    # keeps; the collector itself stays on for the stream's own cycles.
    out = receiver()
    port = free_port()
    worker = workers.run(os.path.join(APPS, "gc_state.py"), "--in", "Src@127.0.0.1:%d" % port, "--out", out.address)
    send_frames(port, [frame("x")])
    out.wait_for(lambda r: len(r.lines()) >= 1)
    match = re.fullmatch(r"frozen=(\d+) enabled=True", out.lines()[0])
    assert match, out.lines()
    assert int(match.group(1)) > 1000  # the wallaroo package, the app and the modules they import
    assert worker.stop() == 0


def test_to_sinks_sends_everything_to_each_sink(workers, receiver):
    first, second = receiver(), receiver()
    port = free_port()
    worker = workers.run(ECHO, "--in", "Echo@127.0.0.1:%d" % port,
                         "--out", "%s,%s" % (first.address, second.address))
    events = texts("both", 1000)
    send_frames(port, [frame(e) for e in events])
    for out in (first, second):
        out.wait_for(lambda r: len(r.lines()) >= len(events))
    for out in (first, second):
        out.wait_quiet(0.3)
        assert out.lines() == events
        assert out.connections() == 1
    assert worker.stop() == 0
