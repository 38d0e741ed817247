"""Connector sinks on a cluster with checkpoints (docs/connectors-sink.md, "On a cluster"): 2 and 3 real `roo` workers,
each its own stream to one reference 2PC sink (python -m wallaroo.connectors.transactional_file_sink), workers killed
with SIGKILL and restarted with the same command where a test says so.

The app (apps/connector_sink_app.py --key-by-worker): every worker's generator makes 0 .. COUNT-1 (one generator per
worker, as in Wallaroo), the value v of worker W has key "W:<v % KEYS>", and the key's state counts what it saw: the
output of v is "W:<v % KEYS>,<v // KEYS + 1>,<v>", written by the worker that owns the key, into its stream
"ConnSink-w-<worker>-id-0".

The oracle (`assert_exact`): the union of every stream's COMMITTED output is exactly the output of a run without
faults: every expected line once, nothing else; every key's lines are in one stream, with the counts 1..n in order.

ROO_FAULT_ROUNDS: rounds of the fault test (default 3), each a kill -9 of a non-initializer and then of the initializer.
"""
import collections
import os
import re

import pytest

from conftest import APPS, free_port, wait_until
from test_connector_sink import GEN_DONE, Sink, checkpoint_failures
from test_resilience_cluster import Restarts, rounds, worker_names

from wallaroo.connectors.transactional_file_sink import committed_output, stream_names

APP = os.path.join(APPS, "connector_sink_app.py")
KEYS = 8  # per worker's generator: enough keys that every worker of 3 owns some (the hash is stable)
UNUSED_OUT = "127.0.0.1:9"  # the cluster fixture passes --out; the app has no TCP sink
FINISH_TIMEOUT = 40.0


def stream(name):
    return "ConnSink-w-%s-id-0" % name


def expected_lines(names, count):
    return ["%s:%d,%d,%d" % (name, v % KEYS, v // KEYS + 1, v) for name in names for v in range(count)]


def committed_streams(sink, names):
    """{worker name: the committed lines of its stream}."""
    return dict((name, committed_output(sink.out_dir, stream(name)).decode("ascii").splitlines()) for name in names)


def union(streams):
    return [line for lines in streams.values() for line in lines]


def exact(sink, names, count):
    return sorted(union(committed_streams(sink, names))) == sorted(expected_lines(names, count))


def assert_exact(sink, names, count, logs):
    streams = committed_streams(sink, names)
    got, want = collections.Counter(union(streams)), collections.Counter(expected_lines(names, count))
    missing, extra = sorted((want - got).elements()), sorted((got - want).elements())
    assert not missing and not extra, "%d lines missing, e.g. %s; %d extra or repeated, e.g. %s\n%s" % (
        len(missing), missing[:5], len(extra), extra[:5], logs())
    holder = {}
    for name, lines in streams.items():
        assert lines, "stream %s committed nothing: the test wants every worker to own keys" % stream(name)
        per_key = collections.defaultdict(list)
        for line in lines:
            key, seen, value = line.split(",")
            per_key[key].append((int(seen), int(value)))
        for key, outputs in per_key.items():
            assert key not in holder, "key %s in streams of %s and %s" % (key, holder.get(key), name)
            holder[key] = name
            residue = int(key.split(":")[1])
            want_key = [(n, residue + (n - 1) * KEYS) for n in range(1, len(outputs) + 1)]
            assert outputs == want_key, "stream %s, key %s: %s" % (stream(name), key, outputs[:10])
    assert stream_names(sink.out_dir) == sorted(stream(name) for name in names)
    for name in names:
        log = open(os.path.join(sink.out_dir, stream(name) + ".txnlog")).read()
        assert '"transactional": true' in log and log.count('"commit"') >= 2, log  # committed in several rounds


def sink_lines(log):
    """The connector sink's log lines, without the time and level: 'roo.io NAME: connector sink ...'."""
    return [re.sub(r"^.* [IWE] (roo\.io \S+ )", r"\1", line) for line in log.splitlines()
            if "connector sink 'results'" in line]


def run_cluster(cluster, sink, tmp_path, size, count):
    ckpt = tmp_path / "ck"
    ckpt.mkdir()
    return cluster(APP, size, UNUSED_OUT,
                   app_args=["--sink-port", str(sink.port), "--count", str(count), "--keys", str(KEYS),
                             "--key-by-worker"],
                   run_flags=["--checkpoint-dir", str(ckpt), "--checkpoint-interval", "200ms"])


@pytest.mark.parametrize("size", [2, 3], ids=["2-workers", "3-workers"])
def test_every_worker_commits_its_own_stream_and_the_union_is_exact(cluster, workers, tmp_path, size):
    count = 6000
    names = worker_names(size)
    sink = Sink(workers, tmp_path / "out", free_port())
    c = run_cluster(cluster, sink, tmp_path, size, count)
    for m in c.members:
        assert m.wait_for_log(GEN_DONE, FINISH_TIMEOUT), c.logs()
    assert wait_until(lambda: exact(sink, names, count), FINISH_TIMEOUT), c.logs()
    assert c.stop() == dict((name, 0) for name in names)
    assert_exact(sink, names, count, c.logs)
    complete = re.findall(r"initializer: checkpoint \d+ complete on %d workers" % size, c[0].stderr())
    assert len(complete) >= 3, c.logs()
    for m in c.members:
        assert checkpoint_failures(m.worker) == [], c.logs()
        assert sink_lines(m.stderr()) == [
            "roo.io %s: connector sink 'results' (127.0.0.1:%d): connected; stream '%s' begins at byte 0"
            % (m.name, sink.port, stream(m.name)),
            "roo.io %s: connector sink 'results' (127.0.0.1:%d): stopped" % (m.name, sink.port)], m.stderr()
    assert sink.lines() == []


def committed_so_far(sink, names):
    return len(union(committed_streams(sink, names)))


@pytest.mark.parametrize("size", [2, 3], ids=["2-workers", "3-workers"])
def test_kill_9_of_a_worker_and_of_the_initializer_mid_stream_keeps_the_union_exact(cluster, workers, tmp_path, size):
    """Each round: kill -9 a non-initializer mid-stream and restart it with the same command, then the same with the
    initializer. Every kill rolls the cluster back to its last complete checkpoint: each worker's new session commits
    the rounds of its stream up to it and aborts the rest. Oracle: the same exact union as without faults."""
    wanted = rounds(3)
    count = 12000
    names = worker_names(size)
    total = size * count
    sink = Sink(workers, tmp_path / "out", free_port())
    c = run_cluster(cluster, sink, tmp_path, size, count)
    r = Restarts(c)
    assert c[0].wait_for_log("checkpoint 2 complete on %d workers" % size, 30), r.logs()
    kills = []
    for n in range(wanted):
        for victim in (1 + n % (size - 1), 0):
            target = total * (len(kills) + 1) // (2 * wanted + 2)
            assert wait_until(lambda: committed_so_far(sink, names) >= target, FINISH_TIMEOUT, 0.05), r.logs()
            r.kill(victim)
            progress = committed_so_far(sink, names)
            assert progress < total, "the stream ended before kill %d: not mid-stream" % (len(kills) + 1)
            kills.append("%s@%d" % (c[victim].name, progress))
            r.restart(victim)
            r.wait_all_ready()
    print("connector sink cluster of %d: kills (name@committed lines of %d): %s" % (size, total, " ".join(kills)))
    assert wait_until(lambda: exact(sink, names, count), FINISH_TIMEOUT), r.logs()
    assert c.stop() == dict((name, 0) for name in names)
    assert_exact(sink, names, count, r.logs)
    assert sink.lines() == []
    for name in names:
        assert_sessions_after_rollbacks(name, r.runs[name], sink, r.logs)


SESSION_LINE = re.compile(r"connector sink 'results' \(127\.0\.0\.1:\d+\): (?:"
                          r"connected; stream '(?P<stream>[^']+)' begins at byte (?P<start>\d+)|"
                          r"the sink held \d+ uncommitted transaction\(s\) of stream '(?P<held>[^']+)': committed "
                          r"\d+, aborted \d+ \(checkpoint \d+ is the last complete\)|"
                          r"stopped)$")


def assert_sessions_after_rollbacks(name, runs, sink, logs):
    """Every run of the worker logged only the documented lines of its connector sink: one new session per start and
    per recovery (a rollback is no outage: no "reconnecting" line), each beginning where the stream's committed
    output then ended, so at a record boundary of the final committed output, never going back; the last run
    stopped."""
    committed = committed_output(sink.out_dir, stream(name))
    starts = []
    for run in runs:
        log = run.stderr()
        lines = [line for line in log.splitlines() if "connector sink 'results'" in line]
        for line in lines:
            found = SESSION_LINE.search(line)
            assert found and " I roo.io %s: " % name in line, "undocumented line: %s\n%s" % (line, logs())
            assert (found.group("stream") or found.group("held") or stream(name)) == stream(name), line
        sessions = [int(m.group("start")) for m in map(SESSION_LINE.search, lines) if m.group("start")]
        recoveries = len(re.findall(r"%s: recovery from checkpoint \d+ complete" % name, log))
        assert len(sessions) == 1 + recoveries - (run is not runs[0]), "%s: %d sessions, %d recoveries\n%s" % (
            name, len(sessions), recoveries, log)
        assert run is runs[0] or recoveries >= 1, "%s restarted without restoring a checkpoint\n%s" % (name, log)
        starts += sessions
    assert starts[0] == 0 and starts == sorted(starts), "%s: sessions began at %s" % (name, starts)
    assert all(at == 0 or committed[at - 1:at] == b"\n" for at in starts), (name, starts)
    assert starts[-1] <= len(committed) and lines[-1].endswith("stopped"), (starts, lines[-1:])
