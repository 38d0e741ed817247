"""Metrics from the terminal: `roo ctl metrics`, `roo top` and the activity log line (docs/metrics.md, "From the
terminal").

Real clusters of `roo` workers, real sockets: exact event counts after sending exactly N events through a
2-worker `roo run --workers 2` cluster; a worker killed with SIGKILL listed under "missing" while the others answer;
`roo top` printing the table; the activity line while events flow, none while idle, and "stalled" when a step does
not return (ROO_METRICS_LOG_EVERY_MS shortens its 10 s period for the tests).
"""
import json
import os
import re
import signal
import socket
import struct
import time

from conftest import APPS, frame, free_port, send_frames, wait_until, worker_env
from test_cluster import PID_APP, pid_frames, send_spread
from test_ctl import ALPHABET, free_port_run, run_roo, start_cluster, supervisor  # noqa: F401 (a fixture)

STUCK = os.path.join(APPS, "stuck.py")
STEPS = ["decoder of source 'Alphabet'", "key_by 'letter_of'", "state computation 'add votes'",
         "encoder of sink 'sink 0'"]
# The activity line every second (the metrics are sampled every 2 s, so one line per sample).
ACTIVITY_ENV = {"ROO_METRICS_LOG_EVERY_MS": "1000"}
ACTIVITY_LINE = re.compile(
    r"I roo\.metrics initializer: metrics: ([\d,.]+) events/s in, ([\d,.]+) out; p99 (?:[\d.]+ (?:ns|us|ms|s)|-); "
    r"backlog \d+ batch(?:es)?, \d+ from peers, sink [\d.]+ [KMGT]?B, paused \d+\.\d s; 0 failed, 0 lost$", re.M)


def vote(letter, count):
    return struct.pack(">I", 5) + letter.encode() + struct.pack(">I", count)


def metrics_json(roo_bin, external, *extra):
    result = run_roo(roo_bin, "ctl", "metrics", "--external", external, "--json", *extra)
    assert result.returncode == 0 and result.stderr == "", result
    return json.loads(result.stdout)


def values(worker, name):
    """{((label, value), ...): value} of every sample named `name`."""
    return {tuple(sorted(s["labels"].items())): s["value"] for s in worker["values"] if s["name"] == name}


def total(worker, name):
    return sum(values(worker, name).values())


def step_events(worker):
    return {dict(labels)["step"]: value for labels, value in values(worker, "roo_events_total").items()}


def test_ctl_metrics_counts_exactly_what_a_two_worker_cluster_did(supervisor, roo_bin, receiver):
    s, out, port, external, _status = start_cluster(supervisor, roo_bin, receiver)
    letters = "abcdefghij"
    for target, count in ((port, 200), (port + 1, 100)):  # the initializer's source, then worker1's
        with socket.create_connection(("127.0.0.1", target), timeout=5) as c:
            c.sendall(b"".join(vote(letters[i % len(letters)], 1) for i in range(count)))
    assert out.wait_for(lambda r: len(r.lines()) >= 300, timeout=15), s.stderr()

    # Each worker's answer is its latest snapshot (every 2 s): wait until it shows everything.
    doc = wait_until(lambda: (lambda d: d if total(d["cluster"], "roo_sink_events_total") == 300 else None)(
        metrics_json(roo_bin, external)), 10, interval=0.3)
    assert doc, metrics_json(roo_bin, external)
    assert [w["worker"] for w in doc["workers"]] == ["initializer", "worker1"]
    assert doc["missing"] == [] and doc["cluster"]["worker"] == "cluster"
    assert values(doc["workers"][0], "roo_source_events_total") == {(("source", "Alphabet"),): 200}
    assert values(doc["workers"][1], "roo_source_events_total") == {(("source", "Alphabet"),): 100}
    assert total(doc["cluster"], "roo_source_events_total") == 300
    # Every vote passes every step once, on whichever worker runs it; the two workers' counts add up exactly.
    assert step_events(doc["cluster"]) == dict((step, 300) for step in STEPS)
    per_worker = [step_events(w) for w in doc["workers"]]
    assert per_worker[0]["decoder of source 'Alphabet'"] == 200
    assert per_worker[1]["decoder of source 'Alphabet'"] == 100
    histograms = {h["labels"]["step"]: h for h in doc["cluster"]["histograms"]
                  if h["name"] == "roo_step_latency_seconds"}
    assert sorted(histograms) == sorted(STEPS)
    assert all(h["events"] == 300 and 0 < h["all"]["count"] <= 300 for h in histograms.values())

    # The same as a table for people (--type metrics is the same request as the positional type).
    table = run_roo(roo_bin, "ctl", "-e", external, "-t", "metrics")
    assert table.returncode == 0 and table.stderr == "", table
    assert_table(table.stdout, ["initializer", "worker1"], 300)
    s.proc.send_signal(signal.SIGTERM)
    assert s.wait() == 0


def assert_table(text, workers, events):
    lines = text.splitlines()
    assert lines[0].startswith("workers: %s (as of " % ", ".join(workers)), text
    assert re.match(r"PIPELINE / STEP +KIND +EVENTS +EVENTS/S +P50 +P99 +P99\.9 +FAILED$", lines[2]), text
    assert re.match(r"Alphabet +pipeline +%s +\S+" % events, lines[3]), text
    for row, step in zip(lines[4:8], STEPS):
        assert re.match(r"  %s +\w+ +%s +[\d,.]+( +[\d.]+ (ns|us|ms|s)){3} +0$" % (re.escape(step), events), row), \
            text
    assert re.search(r"^WORKER +IN/S +OUT/S +QUEUE +PEER QUEUE +SINK QUEUE +PAUSED$", text, re.M), text
    for worker in workers:
        assert re.search(r"^%s +[\d,.]+ +[\d,.]+ +\d+ +\d+ +[\d.]+ [KMGT]?B +\d+\.\d s$" % worker, text, re.M), text
    assert "\ncheckpoints: off\n" in text, text


def test_a_killed_worker_is_listed_as_missing_and_the_rest_still_answer(cluster, receiver, roo_bin):
    out = receiver()
    c = cluster(PID_APP, 3, out.address, sources=["Keys"], check_exit=False)
    send_spread(pid_frames(1), c.in_addresses("Keys"))
    assert out.wait_for(lambda r: len(r.lines()) >= 30, timeout=15), c.logs()
    before = wait_until(lambda: (lambda d: d if total(d["cluster"], "roo_source_events_total") == 30 else None)(
        metrics_json(roo_bin, c[0].external)), 10, interval=0.3)
    assert before and [w["worker"] for w in before["workers"]] == ["initializer", "worker1", "worker2"], before

    c[2].worker.kill()
    for m in (c[0], c[1]):
        assert m.wait_for_log("cluster: lost worker 'worker2'"), m.stderr()
    for via in (c[0], c[1]):
        doc = metrics_json(roo_bin, via.external)
        assert [w["worker"] for w in doc["workers"]] == ["initializer", "worker1"], doc
        assert doc["missing"] == ["worker2"]
        # The cluster's sum is the survivors' (what worker2 counted died with it).
        assert total(doc["cluster"], "roo_source_events_total") == sum(
            total(w, "roo_source_events_total") for w in doc["workers"])
    table = run_roo(roo_bin, "top", "--once", "-e", c[1].external)
    assert table.returncode == 0 and table.stderr == "", table
    assert table.stdout.startswith("workers: initializer, worker1 (as of "), table.stdout
    assert table.stdout.endswith("missing workers: worker2\n"), table.stdout
    c.stop(via=0, expect=None)


def test_top_prints_one_table_when_not_on_a_terminal(workers, receiver, roo_bin):
    out = receiver()
    port, external = free_port(), "127.0.0.1:%d" % free_port()
    w = workers.run(ALPHABET, "--in", "Alphabet@127.0.0.1:%d" % port, "--out", out.address, "--external", external)
    send_frames(port, [vote("a", 1)] * 10)
    assert out.wait_for(lambda r: len(r.lines()) >= 10, timeout=10), w.stderr()
    wait_until(lambda: total(metrics_json(roo_bin, external)["cluster"], "roo_sink_events_total") == 10, 10, 0.3)
    for args in (["--once"], []):  # stdout is a pipe here: one table without --once as well
        top = run_roo(roo_bin, "top", "--external", external, "--interval", "200ms", *args)
        assert top.returncode == 0 and top.stderr == "", top
        assert "\033[" not in top.stdout
        assert_table(top.stdout, ["initializer"], 10)
        assert top.stdout.endswith("missing workers: none\n"), top.stdout
        assert "\nWORKER " in top.stdout and "cluster " not in top.stdout  # one worker: no sum row


def test_top_and_ctl_metrics_say_in_one_line_when_no_worker_answers(roo_bin):
    address = "127.0.0.1:%d" % free_port()
    top = run_roo(roo_bin, "top", "--external", address)
    assert (top.returncode, top.stdout, top.stderr) == (
        1, "", "roo top: unable to connect to %s: connection refused\n" % address)
    ctl = run_roo(roo_bin, "ctl", "metrics", "--external", address, "--json")
    assert (ctl.returncode, ctl.stdout, ctl.stderr) == (
        1, "", "roo ctl: unable to connect to %s: connection refused\n" % address)
    bad = run_roo(roo_bin, "top", "--external", address, "--interval", "soon")
    assert bad.returncode == 2 and bad.stderr.startswith("roo top: unable to parse --interval 'soon'"), bad


def test_a_worker_without_metrics_is_named_in_a_note(workers, receiver, roo_bin):
    out = receiver()
    external = "127.0.0.1:%d" % free_port()
    workers.run("--no-metrics", ALPHABET, "--in", "Alphabet@127.0.0.1:%d" % free_port(), "--out", out.address,
                "--external", external)
    result = run_roo(roo_bin, "ctl", "metrics", "-e", external, "--json")
    assert result.returncode == 0, result
    assert result.stderr == ("roo ctl: note: worker 'initializer' answered without metrics (started with "
                             "--no-metrics?)\n")
    doc = json.loads(result.stdout)
    assert doc["workers"] == [] and doc["missing"] == ["initializer"]


def activity_lines(worker):
    return ACTIVITY_LINE.findall(worker.stderr())


def test_the_activity_line_comes_while_events_flow_and_not_while_idle(workers, receiver):
    out = receiver()
    port = free_port()
    env = dict(worker_env(), **ACTIVITY_ENV)
    w = workers.run(ALPHABET, "--in", "Alphabet@127.0.0.1:%d" % port, "--out", out.address, env=env)
    time.sleep(4.5)  # two samples and more: idle, so no line
    assert "roo.metrics initializer: metrics:" not in w.stderr(), w.stderr()

    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        deadline = time.monotonic() + 4.5
        while time.monotonic() < deadline:
            c.sendall(b"".join(vote("b", 1) for _ in range(50)))
            sent += 50
            time.sleep(0.05)
    assert out.wait_for(lambda r: len(r.lines()) >= sent, timeout=15), w.stderr()
    assert wait_until(lambda: len(activity_lines(w)) >= 2, 6), w.stderr()
    assert all(float(rate_in.replace(",", "")) > 0 for rate_in, _out in activity_lines(w)[:2]), w.stderr()
    assert " W roo.metrics" not in w.stderr(), w.stderr()

    # Once the last events are in a line, the worker is idle again: no more lines.
    time.sleep(4.5)
    settled = w.stderr().count("roo.metrics initializer: metrics:")
    time.sleep(4.5)
    assert w.stderr().count("roo.metrics initializer: metrics:") == settled, w.stderr()
    assert w.stop() == 0


def test_a_step_that_does_not_return_makes_the_line_say_stalled(workers, receiver):
    out = receiver()
    port = free_port()
    env = dict(worker_env(), **ACTIVITY_ENV)
    w = workers.spawn([workers.roo_bin, "run", "--drain-timeout", "2", STUCK, "--in", "Stuck@127.0.0.1:%d" % port,
                       "--out", out.address, "--stuck", "sleep"], env=env)
    w.wait_ready()
    send_frames(port, [frame("ok-1")])
    assert out.wait_for(lambda r: r.lines() == ["ok-1"], timeout=10), w.stderr()
    send_frames(port, [frame("stuck-a")])
    send_frames(port, [frame("ok-2")])  # waits behind the stuck call (in the socket: the executor reads it)
    stalled = re.compile(r"W roo\.metrics initializer: metrics: stalled: nothing processed in \d+\.\d s \(the "
                         r"executor has been in one step or wait for (\d+\.\d) s\); 0 events/s in, 0 out; p99 -; "
                         r"backlog \d+ batch(?:es)?, 0 from peers, sink [\d.]+ [KMGT]?B, paused \d+\.\d s; 0 failed, "
                         r"0 lost$", re.M)
    assert wait_until(lambda: len(stalled.findall(w.stderr())) >= 2, 10), w.stderr()
    stuck_for = [float(seconds) for seconds in stalled.findall(w.stderr())]
    assert stuck_for[1] > stuck_for[0] >= 2.0, stuck_for
    w.send_signal(signal.SIGTERM)
    assert w.wait() == 1  # the stuck call is interrupted: one event failed (test_stuck_step.py)


def read_pty(fd, seconds):
    import select
    out, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out.decode("utf-8", "replace")


def test_top_redraws_on_a_terminal_and_goes_on_when_the_worker_goes(workers, receiver, roo_bin):
    import pty
    out = receiver()
    external = "127.0.0.1:%d" % free_port()
    w = workers.run(ALPHABET, "--in", "Alphabet@127.0.0.1:%d" % free_port(), "--out", out.address,
                    "--external", external)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(roo_bin, [roo_bin, "top", "-e", external, "--interval", "300ms", "--timeout", "1"])
    try:
        shown = read_pty(fd, 1.6)
        header = "roo top: %s, every 0.3 s (Ctrl-C to quit)\r\n" % external
        frames = shown.split("\033[H\033[2J")
        assert frames[0] == "" and len(frames) >= 4, shown
        assert all(f.startswith(header + "\r\nworkers: initializer (as of ") for f in frames[1:-1]), shown
        assert w.stop() == 0
        shown = read_pty(fd, 1.6)
        assert (header + "unable to connect to %s: connection refused; retrying\r\n\r\nworkers: initializer"
                % external) in shown, shown
    finally:
        os.kill(pid, signal.SIGINT)
        os.waitpid(pid, 0)
        os.close(fd)
