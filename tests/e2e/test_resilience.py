"""Checkpoints and recovery on one worker (issue 9; docs/resilience.md): real `roo`/`machida` processes, real SIGKILL.

Most tests run tests/e2e/apps/sequence_check.py: a generator source emits 0 .. K*P-1, keyed by value % K, and each
key's state is the last sequence number it saw; the state computation outputs "key,seq", or "GAP key expected got"
when a value does not follow the last one of its key. Generator sources are replayed from their checkpointed
position, so after any number of kill -9 + restart with the same command:
* no GAP line ever appears (state and generator position restored together, nothing counted twice or skipped),
* every key's last output is P-1 (the final state equals a run without faults),
* every sequence number of every key reached the receiver at least once (outputs after the last checkpoint repeat;
  none is lost).

ROO_FAULT_ROUNDS sets the fault loop's kills (CI default 10; 100+ on demand); ROO_FAULT_SEED replays a loop.
"""
import glob
import os
import random
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import (APPS, EXTERNAL_CLEAN_SHUTDOWN, READY_LINE, external_request, free_port, wait_until,
                      worker_env)

SEQ_APP = os.path.join(APPS, "sequence_check.py")
TWO_APP = os.path.join(APPS, "two_counts.py")
ROUNDS = int(os.environ.get("ROO_FAULT_ROUNDS", "10"))
SEED = int(os.environ.get("ROO_FAULT_SEED", str(random.randrange(1 << 30))))
KEYS = 10
LINE = re.compile(r"^(\d+),(\d+)$")
COMPLETE = re.compile(r"checkpoint (\d+) complete: (\d+) keys changed, .* written in [\d.]+ ms "
                      r"\(executor paused [\d.]+ ms\)")
RECOVERY_STARTED = re.compile(r"recovery from checkpoint (\d+) started \((.*)\)")
RECOVERY_DONE = re.compile(r"recovery from checkpoint (\d+) complete: (\d+) keys restored in \d+ ms")
RECOVERY_COMPLETE = "|~~ - Recovery COMPLETE - ~~|"


# ------------------------------------------------------------------------------------------------------- helpers


def roo_argv(roo_bin, ckdir, app, out, *app_args, interval="100ms"):
    return [roo_bin, "run", "--checkpoint-dir", str(ckdir), "--checkpoint-interval", interval, app,
            "--out", out.address] + list(app_args)


def app_folder(ckdir):
    """DIR/<app>.roo-checkpoints (the one there is)."""
    found = glob.glob(os.path.join(str(ckdir), "*.roo-checkpoints"))
    assert len(found) == 1, found
    return found[0]


def manifest_ids(folder):
    return sorted(int(m) for m in re.findall(r"manifest-(\d{20})\.json", " ".join(os.listdir(folder))))


def snapshot_ids(folder, worker="initializer"):
    path = os.path.join(folder, worker)
    if not os.path.isdir(path):
        return []
    return sorted(int(m) for m in re.findall(r"snapshot-(\d{20})\.(?:full|delta)\b", " ".join(os.listdir(path))))


def completed(stderr):
    return [int(m.group(1)) for m in COMPLETE.finditer(stderr)]


def sequences(receiver):
    """Per connection: {key: [seq, ...]} and the GAP lines (complete lines only)."""
    runs, gaps = [], []
    for buf in receiver.per_connection():
        per_key = {}
        for line in buf.decode("ascii").split("\n")[:-1]:
            m = LINE.match(line)
            if m:
                per_key.setdefault(int(m.group(1)), []).append(int(m.group(2)))
            else:
                gaps.append(line)
        runs.append(per_key)
    return runs, gaps


def last_value(receiver):
    """The highest value (seq * KEYS + key) on the newest connection, or -1."""
    conns = receiver.per_connection()
    if not conns:
        return -1
    tail = conns[-1][-400:].decode("ascii", "replace").split("\n")[:-1]
    best = -1
    for line in tail:
        m = LINE.match(line)
        if m:
            best = max(best, int(m.group(2)) * KEYS + int(m.group(1)))
    return best


def finished(receiver, per_key):
    """True once the newest connection has every key's last sequence number."""
    conns = receiver.per_connection()
    if not conns:
        return False
    text = conns[-1].decode("ascii", "replace")
    return all(("\n%d,%d\n" % (k, per_key - 1)) in ("\n" + text) for k in range(KEYS))


def assert_exact_outcome(receiver, per_key, logs=""):
    """The oracle: no GAP, every key ends at per_key-1 on the newest connection, every seq delivered at least once,
    and within each connection every key's outputs are consecutive."""
    runs, gaps = sequences(receiver)
    assert gaps == [], "%s\n%s" % (gaps[:10], logs)
    assert runs, logs
    final = runs[-1]
    assert dict((k, final.get(k, [None])[-1]) for k in range(KEYS)) == dict((k, per_key - 1) for k in range(KEYS)), \
        logs
    for k in range(KEYS):
        seen = set()
        for index, run in enumerate(runs):
            seqs = run.get(k, [])
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True, \
                "connection %d, key %d: not consecutive %s\n%s" % (index, k, seqs[:20], logs)
            seen.update(seqs)
        assert seen == set(range(per_key)), "key %d: lost %s\n%s" % (k, sorted(set(range(per_key)) - seen)[:20],
                                                                     logs)


def wait_exit(worker, timeout=20.0):
    try:
        return worker.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        pytest.fail("worker %s did not exit within %.0f s; stderr:\n%s" % (worker.label, timeout, worker.stderr()),
                    pytrace=False)


def sigkill(worker):
    worker.proc.send_signal(signal.SIGKILL)
    assert worker.proc.wait(timeout=10) == -signal.SIGKILL


def run_to_the_end(workers, argv, out, per_key, label, timeout=60.0):
    """Start `argv`, wait until every key reached per_key-1 on its connection, stop it with SIGTERM (exit 0)."""
    connections = out.connections()
    worker = workers.spawn(argv, label=label)
    worker.wait_ready()
    assert wait_until(lambda: out.connections() > connections and finished(out, per_key), timeout, 0.05), \
        workers.logs()
    out.wait_quiet(0.3)
    assert worker.stop() == 0, worker.stderr()
    return worker


# ---------------------------------------------------------------------------------------------------- fault loop


def test_fault_loop_kill_9_and_restart_ends_in_the_exact_state(workers, receiver, roo_bin, tmp_path):
    """Oracle: after ROUNDS kill -9 + restart with the same command (at random moments mid-stream, right after a
    "checkpoint N complete" line, and during recovery), no GAP line ever appears, every key's last output is P-1
    (the final state of a run without faults) and every sequence number was delivered at least once.

    Kill modes, in turn: "mid-stream" (at a random point of the stream; the 100 ms interval puts many of these
    during a checkpoint's write), "after checkpoint" (as soon as a new "checkpoint N complete" line shows),
    "recovery" (a random 0-150 ms after "recovery from checkpoint N started"; the app's state objects take 15 ms
    each to unpickle, so recovery lasts ~150 ms). The summary counts the kills that landed during recovery and
    between a snapshot file and its manifest (a snapshot newer than every manifest after the kill).
    """
    rng = random.Random(SEED)
    per_key = max(3000, 300 * ROUNDS)
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    # ~10k values/s at most: 5 ms of sleep every 50 values.
    argv = roo_argv(roo_bin, ckdir, SEQ_APP, out, "--per-key", str(per_key), "--pause-every", "50",
                    "--pause-ms", "5", "--restore-ms", "15")
    total = KEYS * per_key
    modes = ["mid-stream", "after checkpoint", "recovery"]
    stats = dict((m, 0) for m in modes)
    during_recovery = between_snapshot_and_manifest = 0
    checkpoints_seen = set()
    started = time.monotonic()
    for round_index in range(ROUNDS):
        mode = modes[round_index % 3] if round_index > 0 else "mid-stream"
        target = total * (round_index + 1) // (ROUNDS + 2)
        worker = workers.spawn(argv, label="round%d" % round_index)
        if mode == "recovery":
            assert wait_until(lambda: RECOVERY_STARTED.search(worker.stderr()) or READY_LINE in worker.stderr()
                              or worker.proc.poll() is not None, 30, 0.002), worker.stderr()
            time.sleep(rng.uniform(0, 0.15))
        else:
            worker.wait_ready(timeout=30)
            assert wait_until(lambda: last_value(out) >= target or worker.proc.poll() is not None, 60, 0.01), \
                "round %d: no progress to %d (at %d)\n%s" % (round_index, target, last_value(out), worker.stderr())
            if mode == "after checkpoint":
                seen = len(completed(worker.stderr()))
                assert wait_until(lambda: len(completed(worker.stderr())) > seen or worker.proc.poll() is not None,
                                  30, 0.002), worker.stderr()
            else:
                time.sleep(rng.uniform(0, 0.1))
        assert worker.proc.poll() is None, "round %d: the worker exited by itself\n%s" % (round_index,
                                                                                         worker.stderr())
        sigkill(worker)
        stats[mode] += 1
        log = worker.stderr()
        checkpoints_seen.update(completed(log))
        if RECOVERY_STARTED.search(log) and RECOVERY_COMPLETE not in log:
            during_recovery += 1
        folder = glob.glob(os.path.join(str(ckdir), "*.roo-checkpoints"))
        if folder and snapshot_ids(folder[0]) and manifest_ids(folder[0]) and \
                max(snapshot_ids(folder[0])) > max(manifest_ids(folder[0])):
            between_snapshot_and_manifest += 1
        assert "GAP" not in out.data().decode("ascii"), workers.logs()
    final = run_to_the_end(workers, argv, out, per_key, "final", timeout=90)
    checkpoints_seen.update(completed(final.stderr()))
    print("\nfault loop (seed %d): %d rounds in %.1f s, kills %s, %d during recovery, %d between a snapshot and its "
          "manifest, %d distinct checkpoints completed, %d connections"
          % (SEED, ROUNDS, time.monotonic() - started, stats, during_recovery, between_snapshot_and_manifest,
             len(checkpoints_seen), out.connections()))
    assert_exact_outcome(out, per_key, workers.logs())
    assert ROUNDS < 3 or during_recovery + stats["recovery"] > 0
