"""Clusters of 1, 2 and 3 workers started by hand give the results of one worker.

Every example runs on a cluster (the initializer plus worker1..worker<N-1>, each with its own
--in) with its input spread round robin by message over the workers' --in addresses; the
generator examples generate on the initializer only. What "the same results" means depends
on the example (see EXAMPLE_CHECKS): with input spread over several sources, a running total's
intermediate values depend on how the sources interleave, so for those the per-key final
totals and per-key line counts must be identical; everything else must match expected.txt
line for line (as a multiset, plus the ordering each example guarantees).

Then the cluster itself: a stateless step after a key_by runs on as many processes as there
are workers, the external channel's status and state queries describe the cluster, and a
stop through any worker (SIGTERM, the external CleanShutdown, `roo shutdown`) drains the
events in flight everywhere and exits 0 on every worker.
"""
import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from conftest import (EXAMPLES, EXTERNAL_CLEAN_SHUTDOWN, EXTERNAL_CLUSTER_STATE_ENTITY_COUNT_QUERY,
                      EXTERNAL_CLUSTER_STATUS_QUERY, EXTERNAL_STATE_ENTITY_COUNT_QUERY,
                      EXTERNAL_STATE_ENTITY_QUERY, REPO, external_query, external_request, frame, send_frames,
                      wait_until)

sys.path.insert(0, os.path.join(REPO, "python"))
import run_offline  # noqa: E402  (examples/run_offline.py, on sys.path via conftest)

EXAMPLE_NAMES = sorted(d for d in os.listdir(EXAMPLES)
                       if os.path.isfile(os.path.join(EXAMPLES, d, "example.json")))
PID_APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cluster_apps", "pid_tag.py")


def load(name):
    return run_offline.load_example(os.path.join(EXAMPLES, name))


def expected_lines(spec):
    with open(os.path.join(spec["dir"], spec["expected"]), encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def connection_records(spec, receiver):
    """Per sink connection, its complete records (lines, or framed payloads as text), in arrival order."""
    result = []
    for buf in receiver.per_connection():
        if spec["output"] == "framed":
            records, at = [], 0
            while at + 4 <= len(buf):
                n = int.from_bytes(buf[at:at + 4], "big")
                if at + 4 + n > len(buf):
                    break
                records.append(buf[at + 4:at + 4 + n].decode("utf-8"))
                at += 4 + n
            assert at == len(buf), "a partial frame at the end of a sink connection"
        else:
            records = buf.decode("utf-8").split("\n")
            assert records[-1] == "", "a partial line at the end of a sink connection"
            records.pop()
        result.append(records)
    return result


def send_spread(frames, addresses):
    """Message i goes to addresses[i % n]; one connection (and thread) per address, all at once."""
    n = len(addresses)
    errors = []

    def send(i):
        try:
            host, port = addresses[i]
            send_frames(port, frames[i::n], host)
        except Exception as e:  # reported below, in the test's thread
            errors.append(e)
    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors


# ---- what "the same results" means, per example ----------------------------------------------------------------

def by_key(spec, lines):
    key_re = re.compile(spec["key_regex"])
    groups = {}
    for line in lines:
        groups.setdefault(key_re.match(line).group(1), []).append(line)
    return groups


def assert_each_key_on_one_connection(spec, connections):
    """Keyed output leaves from the worker owning the key: all of a key's lines are on one sink connection."""
    owner = {}
    for index, records in enumerate(connections):
        for key in by_key(spec, records):
            assert key not in owner, "key %r left through two sink connections (%d and %d)" % (
                key, owner[key], index)
            owner[key] = index


def check_running_totals(spec, workers, connections, expected):
    """`<key> => <running total>` lines: per key, the same number of lines and the same final total.

    The input was spread over several sources, so intermediate totals depend on the interleaving; on the key's
    owner they still only grow, and the last one is the one-worker final total.
    """
    actual = [line for records in connections for line in records]
    assert len(actual) == len(expected)
    assert_each_key_on_one_connection(spec, connections)
    total_of = re.compile(r" => (\d+)$")
    expected_by_key = by_key(spec, expected)
    for records in connections:
        for key, lines in by_key(spec, records).items():
            totals = [int(total_of.search(line).group(1)) for line in lines]
            assert totals == sorted(totals), "running total of %r went down: %s" % (key, totals)
            assert len(lines) == len(expected_by_key[key]), "key %r: %d lines, expected %d" % (
                key, len(lines), len(expected_by_key[key]))
            assert lines[-1] == expected_by_key[key][-1], "key %r: final %r, expected %r" % (
                key, lines[-1], expected_by_key[key][-1])
    assert set(by_key(spec, actual)) == set(expected_by_key)


def check_counts(spec, workers, connections, expected):
    """word_count: counts grow by one per word, so even with interleaved sources the lines are the same."""
    check_running_totals(spec, workers, connections, expected)
    assert sorted(line for records in connections for line in records) == sorted(expected)


def check_stateless_spread(spec, workers, connections, expected):
    """No key_by: an event stays on the worker that read it, in order. Worker i read messages i, i+n, ...

    so each sink connection carries exactly one of those subsequences of expected.txt, in order.
    """
    n = len(workers)
    got = sorted(records for records in connections if records)
    want = sorted(part for part in (expected[i::n] for i in range(n)) if part)
    assert got == want


def check_generated_on_initializer(spec, workers, connections, expected):
    """A generator on the initializer only and no key_by: all output from one worker, in order."""
    non_empty = [records for records in connections if records]
    assert non_empty == [expected]


def check_keyed_one_stream(spec, workers, connections, expected):
    """One source (the initializer's generator), keyed: the same lines, and per key the same order."""
    actual = [line for records in connections for line in records]
    assert sorted(actual) == sorted(expected)
    assert_each_key_on_one_connection(spec, connections)
    actual_by_key = by_key(spec, actual)
    for key, lines in by_key(spec, expected).items():
        assert actual_by_key[key] == lines, "per-key order broken for key %r" % key


def check_same_multiset(spec, workers, connections, expected):
    """loyalty: one reward per customer, whatever the interleaving of the two streams."""
    assert sorted(line for records in connections for line in records) == sorted(expected)


EXAMPLE_CHECKS = {
    "alerts_stateful": check_keyed_one_stream,
    "alerts_stateless": check_generated_on_initializer,
    "alphabet": check_running_totals,
    "celsius": check_stateless_spread,
    "loyalty": check_same_multiset,
    "reverse": check_stateless_spread,
    "windowed_alerts": check_keyed_one_stream,
    "word_count": check_counts,
}


def test_every_example_has_a_cluster_check():
    assert sorted(EXAMPLE_CHECKS) == EXAMPLE_NAMES


@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_on_a_cluster(cluster, receiver, name, size):
    spec = load(name)
    expected = expected_lines(spec)
    out = receiver()
    c = cluster(os.path.join(spec["dir"], spec["module"] + ".py"), size, out.address,
                sources=[s["name"] for s in spec["sources"]], app_args=spec["app_args"])
    for source in spec["sources"]:
        send_spread(run_offline.input_frames(spec["dir"], source), c.in_addresses(source["name"]))

    def received():
        return sum(len(records) for records in connection_records(spec, out))
    assert out.wait_for(lambda r: received() >= len(expected), timeout=20), \
        "%d of %d records arrived" % (received(), len(expected))
    out.wait_quiet(0.3)
    # SIGTERM to the last worker (a non-initializer when size > 1) stops all; nothing more may arrive.
    c.stop()
    out.wait_quiet(0.2)
    EXAMPLE_CHECKS[name](spec, c.members, connection_records(spec, out), expected)


def test_example_on_a_machida_cluster(cluster, receiver):
    """The same through the machida launcher: alphabet on 2 workers."""
    spec = load("alphabet")
    expected = expected_lines(spec)
    out = receiver()
    c = cluster("alphabet", 2, out.address, sources=["Alphabet"], launcher="machida", module_dir=spec["dir"])
    send_spread(run_offline.input_frames(spec["dir"], spec["sources"][0]), c.in_addresses("Alphabet"))
    assert out.wait_for(lambda r: len(r.lines()) >= len(expected), timeout=20)
    out.wait_quiet(0.3)
    c.stop()
    check_running_totals(spec, c.members, connection_records(spec, out), expected)


def test_roo_send_spreads_over_the_workers(cluster, receiver, roo_bin, tmp_path):
    """`roo send --host a,b,c` (round robin by message) into a 3-worker word_count."""
    spec = load("word_count")
    expected = expected_lines(spec)
    out = receiver()
    c = cluster(os.path.join(spec["dir"], "word_count.py"), 3, out.address, sources=["Split and Count"])
    hosts = ",".join("%s:%d" % a for a in c.in_addresses("Split and Count"))
    send = subprocess.run([roo_bin, "send", "--host", hosts, "--file", os.path.join(spec["dir"], "words.txt"),
                           "--interval", "0", "--no-write"], capture_output=True, timeout=30, cwd=str(tmp_path))
    assert send.returncode == 0, send.stderr
    assert out.wait_for(lambda r: len(r.lines()) >= len(expected), timeout=20)
    out.wait_quiet(0.3)
    c.stop()
    check_counts(spec, c.members, connection_records(spec, out), expected)
    # Every worker read some of the input (round robin by message reached all three).
    for m in c.members:
        events_in = re.search(r"stopped: (\d+) events in", m.stderr())
        assert events_in and int(events_in.group(1)) > 0, m.stderr()


# ---- the cluster itself, with cluster_apps/pid_tag.py ----------------------------------------------------------

KEYS = ["k%02d" % i for i in range(30)]


def pid_frames(rounds):
    return [frame(key) for _ in range(rounds) for key in KEYS]


def parse_pid_lines(lines):
    """{key: [(count, pid)]} in arrival order."""
    result = {}
    for line in lines:
        key, count, pid = line.split(" ")
        result.setdefault(key, []).append((int(count), int(pid)))
    return result


def assert_pid_output(lines, rounds, pids):
    """Every key counted 1..rounds exactly once, each key on one worker; returns {key: pid}."""
    assert len(lines) == rounds * len(KEYS)
    per_key = parse_pid_lines(lines)
    assert sorted(per_key) == KEYS
    owner = {}
    for key, seen in per_key.items():
        assert sorted(c for c, _ in seen) == list(range(1, rounds + 1)), "key %s counts %s" % (key, seen)
        key_pids = set(p for _, p in seen)
        assert len(key_pids) == 1, "key %s ran on several processes: %s" % (key, key_pids)
        owner[key] = key_pids.pop()
        assert owner[key] in pids, "key %s ran on pid %d, not a worker (%s)" % (key, owner[key], pids)
    return owner


@pytest.mark.parametrize("size", [2, 3])
def test_stateless_step_after_key_by_runs_on_every_worker(cluster, receiver, size):
    out = receiver()
    c = cluster(PID_APP, size, out.address, sources=["Keys"])
    send_spread(pid_frames(4), c.in_addresses("Keys"))
    assert out.wait_for(lambda r: len(r.lines()) >= 4 * len(KEYS), timeout=20)
    out.wait_quiet(0.3)
    owner = assert_pid_output(out.lines(), 4, c.pids())
    assert sorted(set(owner.values())) == sorted(c.pids())
    c.stop()


def test_external_queries_describe_the_cluster(cluster, receiver):
    out = receiver()
    c = cluster(PID_APP, 3, out.address, sources=["Keys"])
    names = ["initializer", "worker1", "worker2"]
    for m in c.members:
        status = external_query(m.external, EXTERNAL_CLUSTER_STATUS_QUERY)
        assert status == {"worker_count": 3, "worker_names": names, "processing_messages": True}
    send_spread(pid_frames(3), c.in_addresses("Keys"))
    assert out.wait_for(lambda r: len(r.lines()) >= 3 * len(KEYS), timeout=20)
    out.wait_quiet(0.3)
    owner = assert_pid_output(out.lines(), 3, c.pids())

    # StateEntityQuery: each worker's keys; together all keys, each on exactly one worker, the one that ran it.
    held = {}
    for m in c.members:
        answer = external_query(m.external, EXTERNAL_STATE_ENTITY_QUERY)
        assert list(answer) == ["counts"], answer
        for key in answer["counts"]:
            assert key not in held, "key %s held by %s and %s" % (key, held[key], m.name)
            held[key] = m.name
            assert owner[key] == m.pid, "key %s held by %s but processed by pid %d" % (key, m.name, owner[key])
        assert external_query(m.external, EXTERNAL_STATE_ENTITY_COUNT_QUERY) == {"counts": len(answer["counts"])}
    assert sorted(held) == KEYS
    counts = dict((name, 0) for name in names)
    for name in held.values():
        counts[name] += 1
    assert all(counts.values()), "a worker holds no key: %s" % counts
    expected_counts = dict((name, {"counts": n}) for name, n in counts.items())
    for m in c.members:
        assert external_query(m.external, EXTERNAL_CLUSTER_STATE_ENTITY_COUNT_QUERY) == expected_counts
    c.stop()


def stop_with_sigterm_to_worker1(c, roo_bin):
    c[1].worker.send_signal(signal.SIGTERM)


def stop_with_clean_shutdown_to_worker2(c, roo_bin):
    assert external_request(c[2].external, EXTERNAL_CLEAN_SHUTDOWN, b"test", answer=False) is None


def stop_with_roo_shutdown_to_the_initializer(c, roo_bin):
    done = subprocess.run([roo_bin, "shutdown", "--external", c[0].external], capture_output=True, timeout=10)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("stop", [stop_with_sigterm_to_worker1, stop_with_clean_shutdown_to_worker2,
                                  stop_with_roo_shutdown_to_the_initializer])
def test_a_stop_through_any_worker_drains_everything(cluster, receiver, roo_bin, stop):
    """Stop while events are in flight on every worker: all of them still arrive, once; every worker exits 0.

    The tagging step sleeps 4 ms per event, so the 360 events (120 per worker) take about a second to process;
    the stop comes once every source has read its whole input (its connection ended), well before that.
    """
    rounds = 12
    out = receiver()
    c = cluster(PID_APP, 3, out.address, sources=["Keys"], app_args=["--delay-ms", "4"],
                run_flags=["--log-level", "debug"])
    send_spread(pid_frames(rounds), c.in_addresses("Keys"))
    for m in c.members:
        assert m.wait_for_log("tcp_source 'Keys': connection from", timeout=10) and \
            wait_until(lambda: re.search(r"tcp_source 'Keys': connection from \S+ (closed|ended)", m.stderr()), 10), \
            m.stderr()
    in_flight = rounds * len(KEYS) - len(out.lines())
    stop(c, roo_bin)
    codes = c.wait_exit()
    assert codes == {"initializer": 0, "worker1": 0, "worker2": 0}, c.logs()
    c.stopped = True
    out.wait_quiet(0.2)
    assert in_flight > 0, "every output had arrived before the stop: the test proved nothing"
    assert_pid_output(out.lines(), rounds, c.pids())
    for m in c.members:
        assert "stopped: " in m.stderr()
