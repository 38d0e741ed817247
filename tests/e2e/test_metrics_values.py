"""Metric values checked against known work (issue 12): an app whose steps sleep 2 ms and 5 ms.

Oracle: the counts are exact (every event counted in every step, N in and N out); the step latencies' percentiles
lie within their bucket's error of the sleep (log-linear buckets, 1/16 wide, reported at their middle) plus the
scheduler's overshoot of time.sleep; start-to-end is at least the sum of the steps. With two workers the key_by
sends events across, and the receiving worker's start-to-end still includes the time spent on the first.
"""
import json
import os
import signal
import time
import urllib.request

from conftest import REPO, connect, free_port, send_frames, frame, wait_until

APP = os.path.join(REPO, "tests", "e2e", "apps", "timed_steps.py")
MS = 1_000_000


def get_json(address, path):
    with urllib.request.urlopen("http://%s%s" % (address, path), timeout=5) as answer:
        return json.loads(answer.read().decode("utf-8"))


def histogram(worker, name, **labels):
    for sample in worker["histograms"]:
        if sample["name"] == name and all(sample["labels"].get(k) == v for k, v in labels.items()):
            return sample
    raise AssertionError("no %s %r in %s" % (name, labels, [h["labels"] for h in worker["histograms"]]))


def value(worker, name, missing_ok=False, **labels):
    for sample in worker["values"]:
        if sample["name"] == name and all(sample["labels"].get(k) == v for k, v in labels.items()):
            return sample["value"]
    if missing_ok:  # a snapshot taken before the pipeline was built has no meters yet
        return None
    raise AssertionError("no %s %r" % (name, labels))


def within_sleep(ns, sleep_ns):
    # The reported value is its bucket's middle: up to 1/32 below the true value; time.sleep overshoots by up to a
    # couple of ms on a busy 2-core machine.
    return sleep_ns * (1 - 1 / 32) <= ns <= sleep_ns * (1 + 1 / 16) + 3 * MS


def test_counts_are_exact_and_step_latencies_match_the_sleeps(workers, receiver):
    receiver = receiver()
    n = 120
    in_port, http = free_port(), "127.0.0.1:%d" % free_port()
    worker = workers.spawn([workers.roo_bin, "run", "--metrics-http", http, APP,
                            "--in", "Timed@127.0.0.1:%d" % in_port, "--out", receiver.address])
    worker.wait_ready()
    send_frames(in_port, [frame(("%s%d" % ("abc"[i % 3], i)).encode()) for i in range(n)])
    assert wait_until(lambda: receiver.data().count(b"\n") == n, 30), receiver.data()

    def settled():
        snapshot = get_json(http, "/api/worker")
        return snapshot if value(snapshot, "roo_sink_events_total", missing_ok=True) == n else None
    assert wait_until(lambda: settled() is not None, 10)
    snapshot = settled()
    assert value(snapshot, "roo_source_events_total", source="Timed") == n
    steps = [h for h in snapshot["histograms"] if h["name"] == "roo_step_latency_seconds"]
    assert [(h["labels"]["kind"], h["labels"]["step"]) for h in steps][:4] == [
        ("decoder", "decoder of source 'Timed'"), ("computation", "computation 'nap_2ms'"),
        ("key_by", "key_by 'first_letter'"), ("state", "state computation 'tally'")]
    assert [h["labels"]["kind"] for h in steps] == ["decoder", "computation", "key_by", "state", "encoder"]
    for sample in steps:
        step = sample["labels"]["step"]
        assert sample["labels"]["pipeline"] == "Timed"
        assert sample["events"] == n, (step, sample["events"])
        assert value(snapshot, "roo_events_total", pipeline="Timed", step=step) == n
        assert 1 <= sample["all"]["count"] <= n  # timed: a sample of them
    nap = histogram(snapshot, "roo_step_latency_seconds", step="computation 'nap_2ms'")["all"]
    tally = histogram(snapshot, "roo_step_latency_seconds", step="state computation 'tally'")["all"]
    for q in ("p50_ns", "p99_ns", "p9999_ns"):
        assert within_sleep(nap[q], 2 * MS), (q, nap)
        assert within_sleep(tally[q], 5 * MS), (q, tally)
    assert nap["min_ns"] >= 2 * MS and tally["min_ns"] >= 5 * MS
    end_to_end = histogram(snapshot, "roo_pipeline_latency_seconds", pipeline="Timed")
    assert end_to_end["events"] == n
    assert end_to_end["all"]["min_ns"] >= 7 * MS
    assert histogram(snapshot, "roo_worker_latency_seconds", pipeline="Timed")["events"] == n
    assert value(snapshot, "roo_step_failures_total", pipeline="Timed", step="computation 'nap_2ms'") == 0
    assert worker.stop() == 0


def test_start_to_end_spans_workers_and_the_cluster_adds_up(workers, receiver):
    receiver = receiver()
    n = 90
    in_port = free_port(2)
    http_port = free_port(2)
    cluster = workers.spawn([workers.roo_bin, "run", "--workers", "2", "--metrics-http", "127.0.0.1:%d" % http_port,
                             APP, "--in", "Timed@127.0.0.1:%d" % in_port, "--out", receiver.address])
    assert cluster.wait_for_log("Application is ready to work", 60)
    assert wait_until(lambda: cluster.stderr().count("Application is ready to work") >= 2, 60), cluster.stderr()
    # All input to the initializer; the key_by sends the keys worker1 owns over to it, after nap_2ms ran here. One
    # event at a time, so each is its own batch and timed (the first of each batch is).
    with connect(in_port) as s:
        for i in range(n):
            s.sendall(frame(("%s%d" % ("abcdefgh"[i % 8], i)).encode()))
            time.sleep(0.01)
    assert wait_until(lambda: receiver.data().count(b"\n") == n, 30), cluster.stderr()

    def cluster_view():
        view = get_json("127.0.0.1:%d" % (http_port + 1), "/api/cluster")  # any worker's view is the cluster's
        total = view["cluster"]
        return view if len(view["workers"]) == 2 and value(total, "roo_sink_events_total", missing_ok=True) == n else None
    assert wait_until(lambda: cluster_view() is not None, 10), get_json("127.0.0.1:%d" % http_port, "/api/cluster")
    view = cluster_view()
    assert view["missing"] == []
    assert value(view["cluster"], "roo_source_events_total", source="Timed") == n
    by_name = {w["worker"]: w for w in view["workers"]}
    second = by_name["worker1"]
    arrived = histogram(second, "roo_pipeline_latency_seconds", pipeline="Timed")
    assert 0 < arrived["events"] < n  # some keys are worker1's
    # Those events spent 2 ms in nap_2ms on the initializer before the 5 ms tally here: their start was there.
    assert arrived["all"]["count"] >= 1 and arrived["all"]["min_ns"] >= 7 * MS * (1 - 1 / 32), arrived["all"]
    tally = histogram(view["cluster"], "roo_step_latency_seconds", step="state computation 'tally'")
    assert tally["events"] == n
    assert cluster.stop() == 0


def test_a_stalled_worker_does_not_hold_the_cluster_view_back(cluster, receiver):
    """SIGSTOP one worker (as a user call that never returns stalls its executor, which runs its side of the
    cluster): the cluster's view still answers, within the gather's patience, with that worker missing; once it
    runs again it is back."""
    out = receiver()
    c = cluster(APP, 2, out.address, sources=["Timed"], order=[], ready=False)
    http_ports = c.start_with_metrics_http()
    initializer = "127.0.0.1:%d" % http_ports[0]
    assert wait_until(lambda: len(get_json(initializer, "/api/cluster")["workers"]) == 2, 10)
    stalled = c.members[1]
    os.kill(stalled.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        view = get_json(initializer, "/api/cluster")
        took = time.monotonic() - started
        assert view["missing"] == ["worker1"], view["missing"]
        assert [w["worker"] for w in view["workers"]] == ["initializer"]
        assert 2.5 <= took <= 6, took  # the initializer's patience (3 s), not forever
        assert c.members[0].wait_for_log("gathering query 1000 without 'worker1'", 5), c.members[0].stderr()
    finally:
        os.kill(stalled.pid, signal.SIGCONT)
    assert wait_until(lambda: len(get_json(initializer, "/api/cluster")["workers"]) == 2, 15)
