"""Clusters under faults: start order, an absent initializer, refused workers, usage errors, a killed worker,
a stop before the cluster formed, and garbage on the control, data and external ports.

The app is cluster_apps/pid_tag.py: every output line `<key> <count> <pid>` says which process owns the key.
"""
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import (EXTERNAL_CLUSTER_STATUS_QUERY, connect, external_query, peer_closed,
                      split_address, wait_until, worker_env)
from test_cluster import KEYS, PID_APP, assert_pid_output, parse_pid_lines, pid_frames, send_spread

# A worker whose cluster stops must be gone within this many seconds.
PROMPT_EXIT = 5.0


def run_keys(c, out, rounds, addresses=None, already=0):
    """Send `rounds` rounds of every key spread over the workers; wait for every output line; return the lines."""
    send_spread(pid_frames(rounds), addresses or c.in_addresses("Keys"))
    total = already + rounds * len(KEYS)
    assert out.wait_for(lambda r: len(r.lines()) >= total, timeout=15), \
        "%d of %d lines\n%s" % (len(out.lines()), total, c.logs())
    out.wait_quiet(0.3)
    return out.lines()


def test_non_initializers_first_initializer_last(cluster, receiver):
    out = receiver()
    c = cluster(PID_APP, 3, out.address, sources=["Keys"], order=[2, 1], ready=False)
    for m in (c[1], c[2]):
        assert m.wait_for_log("cluster: cannot reach the initializer at %s (connection refused); retrying"
                              % c[0].control), m.stderr()
    c.start_member(0)
    c.wait_ready()
    assert c[0].wait_for_log("cluster: all 3 workers joined") and c[0].wait_for_log("cluster: data channels up")
    owner = assert_pid_output(run_keys(c, out, 2), 2, c.pids())
    assert sorted(set(owner.values())) == sorted(c.pids())
    c.stop()


def test_a_worker_without_an_initializer_keeps_retrying(cluster, receiver):
    out = receiver()
    c = cluster(PID_APP, 2, out.address, sources=["Keys"], order=[1], ready=False, check_exit=False)
    w = c[1]
    assert w.wait_for_log("cluster: cannot reach the initializer at %s (connection refused); retrying"
                          % c[0].control), w.stderr()
    # Still trying: a listener that appears on the initializer's control address gets a connection from it.
    host, port = split_address(c[0].control)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(4)
    listener.settimeout(5)
    try:
        conn, _ = listener.accept()
        conn.close()
    finally:
        listener.close()
    assert w.proc.poll() is None, w.stderr()
    assert never_ready(w)
    w.worker.kill()
    c.stopped = True


def never_ready(member):
    return "Application is ready to work" not in member.stderr()


@pytest.mark.parametrize("waiting", ["initializer", "worker1"])
def test_sigterm_before_the_cluster_formed_stops_the_worker(cluster, receiver, waiting):
    """A worker still waiting for its cluster (the initializer for worker1, or worker1 for the initializer)
    stops promptly on SIGTERM, without the ready line."""
    out = receiver()
    index = 0 if waiting == "initializer" else 1
    c = cluster(PID_APP, 2, out.address, sources=["Keys"], order=[index], ready=False, check_exit=False)
    m = c[index]
    if index == 1:
        assert m.wait_for_log("cluster: cannot reach the initializer at"), m.stderr()
    else:
        assert wait_until(lambda: connect_ok(m.control), 10), m.stderr()
    m.worker.send_signal(signal.SIGTERM)
    try:
        code = m.proc.wait(timeout=PROMPT_EXIT)
    except subprocess.TimeoutExpired:
        code = None
        m.worker.kill()
    c.stopped = True
    if code is None:
        pytest.fail("%s ignored SIGTERM while waiting for the cluster to form (killed after %.0f s):\n%s"
                    % (m.name, PROMPT_EXIT, m.stderr()), pytrace=False)
    assert never_ready(m)
    assert code in (0, 1), m.stderr()


def connect_ok(address):
    host, port = split_address(address)
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def last_line(text):
    return text.rstrip("\n").split("\n")[-1]


def test_a_second_worker_with_a_taken_name_is_refused(cluster, receiver):
    out = receiver()
    c = cluster(PID_APP, 3, out.address, sources=["Keys"], order=[0, 1], ready=False)
    assert c[0].wait_for_log("cluster: worker 'worker1' joined (2 of 3)"), c.logs()
    dup = c.start_extra("worker1")
    assert dup.proc.wait(timeout=PROMPT_EXIT) == 1, dup.stderr()
    assert last_line(dup.stderr()) == ("roo run: unable to join the cluster at %s: a worker named 'worker1' is "
                                       "already a member" % c[0].control), dup.stderr()
    assert c[0].wait_for_log("cluster: refused worker 'worker1' from ")
    # The refusal did not disturb the forming cluster: worker2 completes it and it works.
    c.start_member(2)
    c.wait_ready()
    assert c.status() == {"worker_count": 3, "worker_names": ["initializer", "worker1", "worker2"],
                          "processing_messages": True}
    assert_pid_output(run_keys(c, out, 2), 2, c.pids())
    c.stop()


def test_one_worker_more_than_worker_count_is_refused(cluster, receiver):
    out = receiver()
    c = cluster(PID_APP, 2, out.address, sources=["Keys"])
    extra = c.start_extra("worker2")
    assert extra.proc.wait(timeout=PROMPT_EXIT) == 1, extra.stderr()
    assert last_line(extra.stderr()) == ("roo run: unable to join the cluster at %s: the cluster already has all "
                                         "of its 2 workers" % c[0].control), extra.stderr()
    assert c[0].wait_for_log("cluster: refused worker 'worker2' from ")
    assert c.status()["worker_names"] == ["initializer", "worker1"]
    assert_pid_output(run_keys(c, out, 2), 2, c.pids())
    c.stop()


USAGE_ERRORS = [
    (["--data", "127.0.0.1:{p}"],
     "roo run: unable to use --data on a worker that is not the initializer: it listens on --my-data instead"),
    (["--worker-count", "2"],
     "roo run: unable to use --worker-count 2: only the initializer (--cluster-initializer) takes --worker-count"),
]
JOIN_NEEDS = ("roo run: unable to join the cluster: a worker that is not the initializer needs --control or --join "
              "(the initializer's control address), --my-control, --my-data and --name")


@pytest.mark.parametrize("extra,drop,message", [
    (USAGE_ERRORS[0][0], None, USAGE_ERRORS[0][1]),
    (USAGE_ERRORS[1][0], None, USAGE_ERRORS[1][1]),
    ([], "--name", JOIN_NEEDS),
    ([], "--my-control", JOIN_NEEDS),
    ([], "--my-data", JOIN_NEEDS),
], ids=["data", "worker-count", "no-name", "no-my-control", "no-my-data"])
def test_non_initializer_usage_errors(roo_bin, tmp_path, extra, drop, message):
    p = [str(port) for port in range(41000, 41004)]  # never bound: the flags are refused first
    flags = {"--control": "127.0.0.1:" + p[0], "--my-control": "127.0.0.1:" + p[1],
             "--my-data": "127.0.0.1:" + p[2], "--name": "worker1"}
    flags.pop(drop, None)
    argv = [roo_bin, "run", PID_APP, "--in", "Keys@127.0.0.1:" + p[3], "--out", "127.0.0.1:" + p[3]]
    for name, value in flags.items():
        argv += [name, value]
    argv += [a.replace("{p}", p[3]) for a in extra]
    done = subprocess.run(argv, capture_output=True, timeout=10, env=worker_env(), cwd=str(tmp_path))
    assert (done.returncode, done.stderr.decode()) == (2, message + "\n")


def test_a_killed_worker_is_reported_and_the_rest_keeps_working(cluster, receiver):
    out = receiver()
    c = cluster(PID_APP, 3, out.address, sources=["Keys"])
    owner = assert_pid_output(run_keys(c, out, 1), 1, c.pids())
    lost = c[2]
    lost_keys = sorted(k for k, pid in owner.items() if pid == lost.pid)
    kept_keys = sorted(k for k, pid in owner.items() if pid != lost.pid)
    assert lost_keys and kept_keys, owner
    lost.worker.kill()
    for m in (c[0], c[1]):
        assert wait_until(lambda: re.search(r"cluster: lost worker 'worker2' \(.*\); its key groups are "
                                            r"unreachable until the cluster is restarted", m.stderr()), 5), \
            m.stderr()
        status = external_query(m.external, EXTERNAL_CLUSTER_STATUS_QUERY, b"roo-details")
        assert status == {"worker_count": 2, "worker_names": ["initializer", "worker1"],
                          "processing_messages": True, "missing_workers": ["worker2"]}, status

    # Round two into the survivors' sources: the survivors' keys all arrive (count 2); worker2's keys are dropped.
    before = len(out.lines())
    send_spread(pid_frames(1), c.in_addresses("Keys")[:2])
    assert out.wait_for(lambda r: len(r.lines()) >= before + len(kept_keys), timeout=10), c.logs()
    out.wait_quiet(0.3)
    lines = out.lines()
    assert len(lines) == before + len(kept_keys), lines
    seen = parse_pid_lines(lines)
    for key in kept_keys:
        assert seen[key] == [(1, owner[key]), (2, owner[key])], (key, seen[key])
    for key in lost_keys:
        assert seen[key] == [(1, owner[key])], (key, seen[key])
    assert wait_until(lambda: re.search(r"cluster: dropped \d+ batches for lost worker 'worker2'",
                                        c[0].stderr() + c[1].stderr()), 5), c.logs()

    # A stop through the initializer ends the survivors promptly; each exits 1 naming the lost worker and counting
    # the events it had for worker2's key groups (round two: frame i went to survivor i % 2).
    started = time.monotonic()
    codes = c.stop(via=0, timeout=PROMPT_EXIT + 5, expect=None)
    assert codes == {"initializer": 1, "worker1": 1}, c.logs()
    assert time.monotonic() - started < PROMPT_EXIT, "the survivors took %.1f s to stop" % (
        time.monotonic() - started)
    for index, m in enumerate((c[0], c[1])):
        dropped = len([k for i, k in enumerate(KEYS) if i % 2 == index and k in lost_keys])
        line = last_line(m.stderr())
        assert re.search(r" E roo\.runtime %s: not everything was delivered: worker 'worker2' was lost \([^)]*\)"
                         % m.name, line), line
        if dropped:
            assert line.endswith("; %d events (for worker 'worker2', which was lost)" % dropped), line


def test_a_killed_initializer_makes_the_others_stop_and_exit_1_naming_it(cluster, receiver):
    out = receiver()
    c = cluster(PID_APP, 3, out.address, sources=["Keys"], check_exit=False)
    assert_pid_output(run_keys(c, out, 1), 1, c.pids())
    c[0].worker.kill()
    codes = c.wait_exit(c.members[1:], timeout=PROMPT_EXIT + 5)
    c.stopped = True
    assert codes == {"worker1": 1, "worker2": 1}, c.logs()
    for m in c.members[1:]:
        assert "cluster: the initializer is gone; this worker stops on its own" in m.stderr(), m.stderr()
        line = last_line(m.stderr())
        # The other survivor may be named too: it went away while this one was stopping alone.
        assert re.search(r" E roo\.runtime %s: not everything was delivered: worker 'initializer' was lost "
                         r"\([^)]*\)(; worker 'worker\d' was lost \([^)]*\))?$" % m.name, line), line


# Garbage for each kind of port: plain text, a huge frame length, then junk.
GARBAGE = b"\xff\xff\xff\xf0GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)) * 4


@pytest.mark.parametrize("kind", ["control", "data", "external"])
def test_garbage_on_a_cluster_port_closes_only_that_connection(cluster, receiver, kind):
    """Every worker's control, data and external ports (the other workers listen on their --my-control only to send
    a joiner on to the initializer)."""
    out = receiver()
    c = cluster(PID_APP, 2, out.address, sources=["Keys"])
    for m in c.members:
        address = {"control": m.control, "data": m.data, "external": m.external}[kind]
        host, port = split_address(address)
        with connect(port, host) as s:
            peer = "%s:%d" % s.getsockname()[:2]
            try:
                s.sendall(GARBAGE)
            except OSError:
                pass  # already closed by the worker: fine, the log line below is still required
            assert peer_closed(s, timeout=5), "%s kept a %s connection with garbage open" % (m.name, kind)
        assert m.wait_for_log("cluster: closing %s connection from %s: " % (kind, peer)), m.stderr()
    assert all(m.proc.poll() is None for m in c.members), c.logs()
    assert c.status(via=1, roo_details=True)["missing_workers"] == []
    owner = assert_pid_output(run_keys(c, out, 2), 2, c.pids())
    assert sorted(set(owner.values())) == sorted(c.pids())
    c.stop()
