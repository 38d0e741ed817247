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
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import APPS, READY_LINE, frame, free_port, send_frames, wait_until, worker_env

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
    return sorted(int(m.group(1)) for m in (re.fullmatch(r"manifest-(\d{20})\.json", n) for n in os.listdir(folder))
                  if m)


def complete_ids(folder):
    """The checkpoints that are complete: with cluster marks in the folder (the initializer of a cluster, one that may
    grow included), those marked; else every manifest (a worker alone)."""
    marked = set(int(m.group(1)) for m in (re.fullmatch(r"cluster-(\d{20})\.complete", n) for n in os.listdir(folder))
                 if m)
    return [i for i in manifest_ids(folder) if i in marked] if marked else manifest_ids(folder)


def snapshot_ids(folder, worker="initializer"):
    path = os.path.join(folder, worker)
    if not os.path.isdir(path):
        return []
    return sorted(int(m.group(1)) for m in (re.fullmatch(r"snapshot-(\d{20})\.(?:full|delta)", n)
                                            for n in os.listdir(path)) if m)


def writing(ckdir):
    """True while a checkpoint is between its snapshot and its manifest: a snapshot (or its .tmp) newer than every
    manifest."""
    folder = glob.glob(os.path.join(str(ckdir), "*.roo-checkpoints"))
    worker = os.path.join(folder[0], "initializer") if folder else None
    if not worker or not os.path.isdir(worker):
        return False
    try:
        names = os.listdir(worker)
    except OSError:
        return False
    snapshots = [int(m.group(1)) for m in (re.fullmatch(r"snapshot-(\d{20})\.(?:full|delta)(?:\.tmp)?", n)
                                           for n in names) if m]
    manifests = manifest_ids(folder[0])
    return bool(snapshots) and max(snapshots) > (max(manifests) if manifests else 0)


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


def stacks(worker):
    """For failure messages: every thread's stack of a live worker (gdb, when installed), to tell a stall's place."""
    if worker.proc.poll() is not None or not shutil.which("gdb"):
        return ""
    done = subprocess.run(["gdb", "-p", str(worker.pid), "-batch", "-ex", "thread apply all bt 20"],
                          capture_output=True, text=True, timeout=60)
    return "\nstacks of %s:\n%s" % (worker.label, done.stdout[-12000:])


def progress(receiver, worker=None):
    """For failure messages: per connection, its line count and last line (and a live worker's stacks)."""
    parts = []
    for index, buf in enumerate(receiver.per_connection()):
        lines = buf.decode("ascii", "replace").split("\n")[:-1]
        parts.append("connection %d: %d lines, last %r" % (index, len(lines), lines[-1] if lines else None))
    return ("; ".join(parts) or "no connection") + (stacks(worker) if worker else "")


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
        "%s\n%s" % (progress(out, worker), workers.logs())
    out.wait_quiet(0.3)
    assert worker.stop() == 0, worker.stderr()
    return worker


# ---------------------------------------------------------------------------------------------------- fault loop


def test_fault_loop_kill_9_and_restart_ends_in_the_exact_state(workers, receiver, roo_bin, tmp_path):
    """Oracle: after ROUNDS kill -9 + restart with the same command (at random moments mid-stream, right after a
    "checkpoint N complete" line, and during recovery), no GAP line ever appears, every key's last output is P-1
    (the final state of a run without faults) and every sequence number was delivered at least once.

    Kill modes, in turn: "mid-stream" (at a random point of the stream), "after checkpoint" (as soon as a new
    "checkpoint N complete" line shows), "recovery" (a random 0-120 ms after "recovery from checkpoint N started";
    the app's state objects take 25 ms each to unpickle, so recovery lasts ~250 ms), "checkpoint write" (as soon as
    the worker's folder shows a snapshot being written or written without its manifest yet; checkpoints every
    100 ms). The summary counts the kills that landed during recovery and between a snapshot file and its manifest
    (a snapshot, or its temporary file, newer than every manifest after the kill).
    """
    rng = random.Random(SEED)
    print("fault loop: ROO_FAULT_ROUNDS=%d ROO_FAULT_SEED=%d" % (ROUNDS, SEED))  # shown with a failure: replays it
    per_key = max(3000, 300 * ROUNDS)
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    # ~10k values/s at most: 5 ms of sleep every 50 values.
    argv = roo_argv(roo_bin, ckdir, SEQ_APP, out, "--per-key", str(per_key), "--pause-every", "50",
                    "--pause-ms", "5", "--restore-ms", "25")
    total = KEYS * per_key
    modes = ["mid-stream", "after checkpoint", "recovery", "checkpoint write"]
    stats = dict((m, 0) for m in modes)
    during_recovery = between_snapshot_and_manifest = 0
    checkpoints_seen = set()
    started = time.monotonic()
    for round_index in range(ROUNDS):
        mode = modes[round_index % len(modes)]
        target = total * (round_index + 1) // (ROUNDS + 2)
        worker = workers.spawn(argv, label="round%d" % round_index)
        if mode == "recovery":
            assert wait_until(lambda: RECOVERY_STARTED.search(worker.stderr()) or READY_LINE in worker.stderr()
                              or worker.proc.poll() is not None, 30, 0.002), worker.stderr()
            time.sleep(rng.uniform(0, 0.12))
        else:
            worker.wait_ready(timeout=30)
            assert wait_until(lambda: last_value(out) >= target or worker.proc.poll() is not None, 60, 0.01), \
                "round %d: no progress to %d (at %d)\n%s" % (round_index, target, last_value(out), worker.stderr())
            if mode == "checkpoint write":
                wait_until(lambda: writing(ckdir) or worker.proc.poll() is not None, 5, 0.0005)
            elif mode == "after checkpoint":
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
        if writing(ckdir):
            between_snapshot_and_manifest += 1
        assert "GAP" not in out.data().decode("ascii"), workers.logs()
    final = run_to_the_end(workers, argv, out, per_key, "final", timeout=90)
    checkpoints_seen.update(completed(final.stderr()))
    print("\nfault loop (seed %d): %d rounds in %.1f s, kills %s, %d during recovery, %d between a snapshot and its "
          "manifest, %d distinct checkpoints completed, %d connections"
          % (SEED, ROUNDS, time.monotonic() - started, stats, during_recovery, between_snapshot_and_manifest,
             len(checkpoints_seen), out.connections()))
    assert_exact_outcome(out, per_key, workers.logs())
    # A recovery lasts ~250 ms and the kill comes 0-120 ms after its first line is seen: they land inside.
    assert stats["recovery"] == 0 or during_recovery > 0


# ------------------------------------------------------------------------------------- clean stop and restart


@pytest.mark.parametrize("api, interval", [("g2", "0.1"), ("g1", "100ms"), ("g2-wallaroo-flags", None)])
def test_sigterm_takes_a_last_checkpoint_and_a_restart_continues_the_sequence(workers, receiver, roo_bin, tmp_path,
                                                                              api, interval):
    """Oracle: `roo run` stopped by SIGTERM mid-stream exits 0 after a last "checkpoint N complete" line and keeps
    its files; the same command again logs "recovery from checkpoint N started (<folder>)" and "... complete: 10
    keys restored", and its first output of every key is exactly the stopped run's last one + 1 (no reset, no
    repeat, nothing skipped), through to P-1. A third start after the stream ended restores the ended generator:
    it emits nothing. Also with G1, a bare-seconds interval, and Wallaroo's flags after APP
    (--run-with-resilience --resilience-dir --time-between-checkpoints)."""
    per_key = 1500
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    app_args = ["--per-key", str(per_key), "--pause-every", "50", "--pause-ms", "5"]
    if api == "g1":
        app_args.append("--g1")
    if interval is None:
        argv = [roo_bin, "run", SEQ_APP, "--out", out.address, "--run-with-resilience", "--resilience-dir",
                str(ckdir), "--time-between-checkpoints", "100000000"] + app_args
    else:
        argv = roo_argv(roo_bin, ckdir, SEQ_APP, out, *app_args, interval=interval)
    first = workers.spawn(argv, label="first")
    first.wait_ready()
    assert wait_until(lambda: last_value(out) >= KEYS * per_key // 3, 30, 0.01), first.stderr()
    assert first.stop() == 0, first.stderr()
    log = first.stderr()
    last_checkpoint = completed(log)[-1]
    assert log.rfind("checkpoint %d complete" % last_checkpoint) > log.rfind("received SIGTERM"), log
    folder = app_folder(ckdir)
    assert manifest_ids(folder)[-1] == last_checkpoint
    out.wait_quiet(0.3)
    stopped_at = sequences(out)[0][0]
    assert sorted(stopped_at) == list(range(KEYS))
    second = run_to_the_end(workers, argv, out, per_key, "second")
    log2 = second.stderr()
    assert RECOVERY_STARTED.search(log2).groups() == (str(last_checkpoint), folder)
    assert RECOVERY_DONE.search(log2).groups() == (str(last_checkpoint), str(KEYS))
    assert log2.index(RECOVERY_COMPLETE) < log2.index(READY_LINE)
    runs, gaps = sequences(out)
    assert gaps == [] and len(runs) == 2
    for k in range(KEYS):
        assert runs[1][k] == list(range(stopped_at[k][-1] + 1, per_key)), (k, stopped_at[k][-5:], runs[1][k][:5])
    assert_exact_outcome(out, per_key, workers.logs())
    bytes_before = out.data()
    third = workers.spawn(argv, label="third")
    third.wait_ready()
    time.sleep(0.5)
    assert third.stop() == 0
    assert RECOVERY_DONE.search(third.stderr()).group(2) == str(KEYS)
    assert "stopped: 0 events in, 0 outputs written" in third.stderr()
    assert out.data() == bytes_before


# ------------------------------------------------------------------------------------ damaged newest checkpoint


def newest_chain_file(folder, checkpoint_id):
    """The last file of the initializer's chain in manifest `checkpoint_id` (the one only that checkpoint names; a
    killed write or compaction may have left other files with its id)."""
    with open(os.path.join(folder, "manifest-%020d.json" % checkpoint_id)) as f:
        manifest = json.load(f)
    (chain,) = [w for w in manifest["workers"] if w["worker"] == "initializer"]
    return chain["files"][-1]["name"]


def damage_truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def damage_flip(path):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        f.seek(0)
        f.write(data)


def damage_app_name(path):
    """One bit of the manifest's application name flipped: a corrupt manifest, not another application's."""
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        at = data.index(b'"app":"') + len(b'"app":"') + 2
        data[at] ^= 0x01
        f.seek(0)
        f.write(data)


@pytest.mark.parametrize("what, damage, skipped", [
    ("snapshot", damage_truncate, r"is truncated \(\d+ of \d+ bytes\)"),
    ("snapshot", damage_flip, r"fails its CRC-32 check"),
    ("manifest", damage_truncate, r"is not a valid manifest \(torn or corrupt\)"),
    ("manifest", damage_app_name, r"is not a valid manifest \(torn or corrupt\)"),
], ids=["truncated-snapshot", "flipped-snapshot", "truncated-manifest", "flipped-manifest-app-name"])
def test_a_damaged_newest_checkpoint_is_skipped_and_the_older_one_restored(workers, receiver, roo_bin, tmp_path,
                                                                           what, damage, skipped):
    """Oracle: after kill -9 with at least two complete checkpoints, damaging the newest checkpoint's own file
    (its snapshot, or its manifest) makes the restart log "checkpoint skipped: checkpoint M: <file> <problem>" and
    "recovery from checkpoint M' started" for the older one M'; the run then ends in the exact final state (no GAP,
    every key at P-1, nothing lost)."""
    per_key = 1500
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    argv = roo_argv(roo_bin, ckdir, SEQ_APP, out, "--per-key", str(per_key), "--pause-every", "50",
                    "--pause-ms", "5")
    first = workers.spawn(argv, label="first")
    first.wait_ready()
    assert wait_until(lambda: len(completed(first.stderr())) >= 3 and last_value(out) >= KEYS * per_key // 3,
                      30, 0.01), first.stderr()
    sigkill(first)
    folder = app_folder(ckdir)
    newest, older = manifest_ids(folder)[-1], manifest_ids(folder)[-2]
    if what == "manifest":
        name = "manifest-%020d.json" % newest
        damage(os.path.join(folder, name))
    else:
        name = newest_chain_file(folder, newest)
        assert name.startswith("snapshot-%020d." % newest), name
        damage(os.path.join(folder, "initializer", name))
    second = run_to_the_end(workers, argv, out, per_key, "second")
    log = second.stderr()
    assert re.search(r"checkpoint skipped: checkpoint %d: %s (%s)" % (newest, re.escape(name), skipped), log), log
    assert RECOVERY_STARTED.search(log).group(1) == str(older), log
    assert RECOVERY_DONE.search(log).groups() == (str(older), str(KEYS))
    assert_exact_outcome(out, per_key, workers.logs())


# ------------------------------------------------------------------------------------------- unpicklable state


def test_unpicklable_state_fails_checkpoints_while_it_lasts_and_the_stream_goes_on(workers, receiver, roo_bin,
                                                                                  tmp_path):
    """Oracle: while key 0's state holds a threading.Lock, every checkpoint fails with the exact line naming the key
    and the state computation, and outputs keep coming; once the lock is gone a later checkpoint completes; a kill -9
    after that and a restart still end in the exact final state (no GAP, every key at P-1, nothing lost)."""
    per_key = 400
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    # key 0 holds a lock for its seq 50..149: values 500..1499, ~0.5 s at 5 ms every 10 values.
    argv = roo_argv(roo_bin, ckdir, SEQ_APP, out, "--per-key", str(per_key), "--pause-every", "10",
                    "--pause-ms", "5", "--unpicklable", "50:150")
    failed_line = re.compile(
        r"checkpoint (\d+) failed: the state of key '0' in state computation 'check sequence' could not be pickled: "
        r"TypeError: cannot pickle '_thread.lock' object; the stream goes on and the next checkpoint retries\n")
    first = workers.spawn(argv, label="first")
    first.wait_ready()
    assert wait_until(lambda: failed_line.search(first.stderr()), 30, 0.01), first.stderr()
    lines_at_failure = len(out.lines())
    assert wait_until(lambda: last_value(out) >= 200 * KEYS, 30, 0.01), first.stderr()
    assert len(out.lines()) > lines_at_failure
    failures = [int(m.group(1)) for m in failed_line.finditer(first.stderr())]
    assert wait_until(lambda: [i for i in completed(first.stderr()) if i > failures[-1]], 30, 0.01), first.stderr()
    log = first.stderr()
    assert len(re.findall(r"checkpoint \d+ failed", log)) == len(failures), log
    assert [i for i in completed(log) if i < failures[0]], log          # it worked before the lock
    assert first.proc.poll() is None
    sigkill(first)
    second = run_to_the_end(workers, argv, out, per_key, "second")
    assert RECOVERY_DONE.search(second.stderr()).group(2) == str(KEYS)
    assert not re.search(r"checkpoint \d+ failed", second.stderr())
    assert_exact_outcome(out, per_key, workers.logs())


# ---------------------------------------------------------------------------------------------------- disk full


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 256 KiB tmpfs (root only); unmounted at teardown."""
    path = tmp_path / "small"
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(path)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): %s" % done.stderr.strip())
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def test_disk_full_fails_checkpoints_and_the_stream_goes_on_until_space_is_freed(workers, receiver, roo_bin,
                                                                                small_tmpfs):
    """Oracle: on a 256 KiB tmpfs with state growing past it, checkpoints fail with one line naming "no space left on
    device" and saying a full one retries; the worker keeps running and outputs keep coming (no GAP); after the tmpfs
    is remounted at 64 MiB a later checkpoint completes, and SIGTERM exits 0 after a last complete checkpoint."""
    out = receiver()
    argv = roo_argv(roo_bin, small_tmpfs, SEQ_APP, out, "--per-key", "100000", "--pause-every", "10",
                    "--pause-ms", "5", "--pad-step", "400", "--pad-cap", "40000")
    failed_line = re.compile(r"checkpoint (\d+) failed: [^\n]*: no space left on device; the stream goes on and the "
                             r"next checkpoint, a full one, retries\n")
    worker = workers.spawn(argv, label="diskfull")
    worker.wait_ready()
    assert wait_until(lambda: failed_line.search(worker.stderr()), 30, 0.01), worker.stderr()
    at_failure = last_value(out)
    assert wait_until(lambda: last_value(out) >= at_failure + 500, 30, 0.01), worker.stderr()
    assert worker.proc.poll() is None
    failures = [int(m.group(1)) for m in failed_line.finditer(worker.stderr())]
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_tmpfs)], check=True)
    assert wait_until(lambda: [i for i in completed(worker.stderr()) if i > failures[-1]], 30, 0.01), \
        worker.stderr()
    assert worker.stop() == 0, worker.stderr()
    log = worker.stderr()
    assert log.rfind("complete: ") > log.rfind("received SIGTERM"), log
    runs, gaps = sequences(out)
    assert gaps == [] and len(runs) == 1
    assert all(run == list(range(len(run))) for run in runs[0].values()), runs[0]
    assert len(re.findall(r"checkpoint \d+ failed", log)) == len(failed_line.findall(log)), log


# ------------------------------------------------------------------------------------------- two states in G2


def expected_two_counts(keys, per_key):
    """{key: [line, ...]} in order: the lines of the even values of each key."""
    lines = dict((k, []) for k in range(keys))
    evens = dict((k, 0) for k in range(keys))
    for value in range(keys * per_key):
        k = value % keys
        if value % 2 == 0:
            evens[k] += 1
            lines[k].append("%d %d %d %d" % (k, value, value // keys + 1, evens[k]))
    return lines


def test_the_same_state_computation_twice_in_g2_keeps_two_states_across_a_recovery(workers, receiver, roo_bin,
                                                                                   tmp_path):
    """Oracle: two_counts applies one counter twice (the first passes on even values only, so the two counts
    differ); across kill -9 and a restart every output line, on every connection, is exactly the line of a run
    without faults ("key value count1 count2"), each connection's lines per key are a contiguous run of the expected
    ones, the last connection ends with every key's last line, and every expected line arrived at least once."""
    keys, per_key = 5, 1000
    expected = expected_two_counts(keys, per_key)
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    argv = roo_argv(roo_bin, ckdir, TWO_APP, out, "--keys", str(keys), "--per-key", str(per_key))
    first = workers.spawn(argv, label="first")
    first.wait_ready()
    assert wait_until(lambda: len(completed(first.stderr())) >= 2 and len(out.lines()) >= len(expected[0]) * 2,
                      30, 0.01), first.stderr()
    sigkill(first)
    second = workers.spawn(argv, label="second")
    second.wait_ready()

    def done():
        conns = out.per_connection()
        return len(conns) >= 2 and all(("\n" + expected[k][-1] + "\n") in ("\n" + conns[-1].decode())
                                       for k in range(keys))
    assert wait_until(done, 60, 0.05), "%s\n%s" % (progress(out, second), workers.logs())
    out.wait_quiet(0.3)
    assert second.stop() == 0
    assert RECOVERY_DONE.search(second.stderr()).group(2) == str(2 * keys)
    seen = dict((k, set()) for k in range(keys))
    for index, buf in enumerate(out.per_connection()):
        per_key = dict((k, []) for k in range(keys))
        for line in buf.decode("ascii").split("\n")[:-1]:
            per_key[int(line.split(" ")[0])].append(line)
        for k, got in per_key.items():
            if got:
                start = expected[k].index(got[0]) if got[0] in expected[k] else -1
                assert start >= 0 and got == expected[k][start:start + len(got)], \
                    "connection %d key %d: %s\nexpected from %s" % (index, k, got[:6], expected[k][:6])
                seen[k].update(got)
        if index == out.connections() - 1:
            assert all(got[-1] == expected[k][-1] for k, got in per_key.items())
    assert all(seen[k] == set(expected[k]) for k in range(keys))


# ---------------------------------------------------------------------------------------------------------- machida


def machida_argv(roo_bin, resilience_dir, out, external, *extra):
    machida = os.path.join(os.path.dirname(roo_bin), "machida")
    return [machida, "--application-module", "sequence_check", "--out", out.address,
            "--run-with-resilience", "--resilience-dir", str(resilience_dir),
            "--time-between-checkpoints", "100000000",
            "--metrics", "127.0.0.1:%d" % free_port(), "--control", "127.0.0.1:%d" % free_port(),
            "--data", "127.0.0.1:%d" % free_port(), "--external", external,
            "--cluster-initializer", "--worker-count", "1", "--name", "initializer", "--ponythreads=1",
            "--ponynoblock"] + list(extra)


def shut_down(roo_bin, how, external):
    if how == "roo shutdown":
        argv = [roo_bin, "shutdown", "--external", external]
    else:
        argv = [os.path.join(os.path.dirname(roo_bin), "cluster_shutdown"), external]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("how", ["roo shutdown", "cluster_shutdown"])
def test_machida_keeps_files_after_kill_9_recovers_and_removes_them_on_clean_shutdown(workers, receiver, roo_bin,
                                                                                      tmp_path, how):
    """Oracle (Wallaroo's machida): with --run-with-resilience the checkpoint files survive kill -9 (manifests and
    snapshots present), the same command recovers ("recovery from checkpoint N started" for the newest manifest) and
    ends in the exact final state; a clean shutdown (`roo shutdown` / `cluster_shutdown` on the external channel)
    exits 0, logs "Removing recovery files", and leaves no checkpoint file in --resilience-dir."""
    per_key = 1500
    rdir = tmp_path / "res"
    rdir.mkdir()
    out = receiver()
    external = "127.0.0.1:%d" % free_port()
    env = worker_env([APPS])
    argv = machida_argv(roo_bin, rdir, out, external, "--per-key", str(per_key), "--pause-every", "50",
                        "--pause-ms", "5")
    first = workers.spawn(argv, label="machida-first", env=env)
    first.wait_ready()
    assert wait_until(lambda: len(completed(first.stderr())) >= 2 and last_value(out) >= KEYS * per_key // 3,
                      30, 0.01), first.stderr()
    sigkill(first)
    folder = app_folder(rdir)
    newest = complete_ids(folder)[-1]  # machida with --external is a cluster that may grow: marks say complete
    assert snapshot_ids(folder) and max(snapshot_ids(folder)) >= newest
    second = workers.spawn(argv, label="machida-second", env=env)
    second.wait_ready()
    assert RECOVERY_STARTED.search(second.stderr()).groups() == (str(newest), folder)
    assert wait_until(lambda: out.connections() >= 2 and finished(out, per_key), 60, 0.05), \
        "%s\n%s" % (progress(out, second), workers.logs())
    out.wait_quiet(0.3)
    assert_exact_outcome(out, per_key, workers.logs())
    shut_down(roo_bin, how, external)
    assert wait_exit(second) == 0, second.stderr()
    assert "Removing recovery files" in second.stderr()
    assert os.listdir(str(rdir)) == []


def test_machida_sigterm_keeps_the_files(workers, receiver, roo_bin, tmp_path):
    """Oracle: machida stopped by SIGTERM (not a clean cluster shutdown) exits 0, does not log "Removing recovery
    files", and its newest complete checkpoint is still there for a restart."""
    rdir = tmp_path / "res"
    rdir.mkdir()
    out = receiver()
    argv = machida_argv(roo_bin, rdir, out, "127.0.0.1:%d" % free_port(), "--per-key", "1500", "--pause-every",
                        "50", "--pause-ms", "5")
    worker = workers.spawn(argv, label="machida", env=worker_env([APPS]))
    worker.wait_ready()
    assert wait_until(lambda: len(completed(worker.stderr())) >= 2, 30, 0.01), worker.stderr()
    assert worker.stop() == 0, worker.stderr()
    assert "Removing recovery files" not in worker.stderr()
    assert manifest_ids(app_folder(rdir))[-1] == completed(worker.stderr())[-1]


# --------------------------------------------------------------------------------------------------- refusals


class Unreachable(object):
    """A sink address nothing listens on (for commands refused before they connect)."""
    address = "127.0.0.1:1"


INFO_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ I roo\.cli .*\n", re.M)


def run_refused(argv, env=None):
    """(exit code, stderr without roo.cli info notes such as machida's "--metrics ... is accepted and ignored")."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                          env=env or worker_env())
    return done.returncode, INFO_LINE.sub("", done.stderr)


@pytest.mark.parametrize("launcher", ["roo run", "machida"])
def test_a_missing_checkpoint_directory_is_refused(roo_bin, tmp_path, launcher):
    """Oracle: a --checkpoint-dir / --resilience-dir that does not exist: exit 2, one line, nothing created."""
    missing = tmp_path / "nosuch"
    if launcher == "roo run":
        argv = roo_argv(roo_bin, missing, SEQ_APP, Unreachable())
        line = "roo run: unable to use --checkpoint-dir %s: no such directory (create it first)\n" % missing
    else:
        argv = machida_argv(roo_bin, missing, Unreachable(), "127.0.0.1:%d" % free_port())
        line = "machida: unable to use --resilience-dir %s: no such directory (create it first)\n" % missing
    code, err = run_refused(argv, env=worker_env([APPS]))
    assert (code, err) == (2, line)
    assert not missing.exists()


def test_roo_and_wallaroo_checkpoint_flags_together_are_refused(roo_bin, tmp_path):
    """Oracle: --checkpoint-dir with --run-with-resilience: exit 2, one line asking to choose one."""
    code, err = run_refused([roo_bin, "run", "--checkpoint-dir", str(tmp_path), SEQ_APP, "--out", "127.0.0.1:1",
                             "--run-with-resilience", "--resilience-dir", str(tmp_path)])
    assert (code, err) == (2, "roo run: unable to use --checkpoint-dir with --run-with-resilience: choose one "
                              "(--checkpoint-dir is Roo's, --run-with-resilience with --resilience-dir Wallaroo's)\n")


@pytest.mark.parametrize("bad", ["0", "0ms", "1h", "x", "-1s"])
def test_a_bad_checkpoint_interval_is_refused(roo_bin, tmp_path, bad):
    """Oracle: --checkpoint-interval that is not a duration of at least 1 ms: exit 2, the CLI's one parse line."""
    code, err = run_refused([roo_bin, "run", "--checkpoint-dir", str(tmp_path), "--checkpoint-interval", bad, SEQ_APP,
                             "--out", "127.0.0.1:1"])
    assert code == 2
    assert err.splitlines()[0] == ("roo run: unable to parse --checkpoint-interval '%s': expected a duration of at "
                                   "least 1ms, e.g. 1s, 500ms, 2m" % bad), err


def test_files_of_another_application_are_refused(workers, receiver, roo_bin, tmp_path):
    """Oracle: a checkpoint folder of sequence_check renamed to two_counts' folder name makes two_counts exit non-zero
    with one line naming both applications (and their fingerprints); it takes no checkpoint over them."""
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    first = workers.spawn(roo_argv(roo_bin, ckdir, SEQ_APP, out, "--per-key", "1500", "--pause-every", "50",
                                   "--pause-ms", "5"), label="sequence")
    first.wait_ready()
    assert wait_until(lambda: len(completed(first.stderr())) >= 2, 30, 0.01), first.stderr()
    sigkill(first)
    folder = app_folder(ckdir)
    before = sorted(os.listdir(folder))
    other = os.path.join(str(ckdir), "Two_counts.roo-checkpoints")
    os.rename(folder, other)
    code, err = run_refused(roo_argv(roo_bin, ckdir, TWO_APP, out))
    assert code == 1, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert re.fullmatch(r"roo run: unable to restore from %s/manifest-\d{20}\.json: it holds checkpoints of app "
                        r"'Sequence check' \(fingerprint '[^']*'\), this is app 'Two counts' \(fingerprint '[^']*'\)"
                        % re.escape(other), lines[0]), err
    assert sorted(os.listdir(other)) == before


def test_state_that_cannot_be_read_back_stops_the_start(workers, receiver, roo_bin, tmp_path):
    """Oracle: when a checkpointed state object raises while it is unpickled, the restart exits 1 with one line
    naming the checkpoint, the folder, the key and the state computation, and emits nothing (never partial state)."""
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    args = ["--per-key", "1500", "--pause-every", "50", "--pause-ms", "5"]
    first = workers.spawn(roo_argv(roo_bin, ckdir, SEQ_APP, out, *args), label="first")
    first.wait_ready()
    assert wait_until(lambda: len(completed(first.stderr())) >= 2, 30, 0.01), first.stderr()
    sigkill(first)
    newest = manifest_ids(app_folder(ckdir))[-1]
    connections = out.connections()
    code, err = run_refused(roo_argv(roo_bin, ckdir, SEQ_APP, out, *(args + ["--restore-raises"])))
    assert code == 1, err
    lines = [line for line in err.splitlines() if " I roo." not in line]
    assert len(lines) == 1, err
    assert re.fullmatch(r"roo run: unable to recover from checkpoint %d in %s: the state of key '\d' in state "
                        r"computation 'check sequence' could not be read back: ValueError: this state is not "
                        r"restored here" % (newest, re.escape(app_folder(ckdir))), lines[0]), err
    assert out.connections() == connections


def test_roo_shutdown_of_roo_run_keeps_the_files_with_a_last_checkpoint(workers, receiver, roo_bin, tmp_path):
    """Oracle: `roo run --checkpoint-dir` stopped by `roo shutdown` exits 0 after a last "checkpoint N complete"
    line, does not log "Removing recovery files", and manifest N is there for the next start."""
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    external = "127.0.0.1:%d" % free_port()
    worker = workers.spawn(roo_argv(roo_bin, ckdir, SEQ_APP, out, "--per-key", "1500", "--pause-every", "50",
                                    "--pause-ms", "5", "--external", external), label="roo-run")
    worker.wait_ready()
    assert wait_until(lambda: len(completed(worker.stderr())) >= 2, 30, 0.01), worker.stderr()
    shut_down(roo_bin, "roo shutdown", external)
    assert wait_exit(worker) == 0, worker.stderr()
    log = worker.stderr()
    assert "Removing recovery files" not in log
    assert manifest_ids(app_folder(ckdir))[-1] == completed(log)[-1]


def test_tcp_source_state_is_restored_and_counting_continues(workers, receiver, roo_bin, tmp_path):
    """Oracle (a TCP source, not replayable): tests/e2e/apps/count_twice.py counts words twice in G2. After 3 rounds
    of 10 words are counted and the stream is idle long enough for the last checkpoint to hold them, kill -9 and a
    restart restore both tables (20 keys restored); 2 more rounds then come out exactly as "w 4 4" and "w 5 5" (the
    counts continue: nothing reset, nothing counted twice)."""
    app = os.path.join(APPS, "count_twice.py")
    keys = ["k%d" % i for i in range(10)]
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    port = free_port()
    argv = [roo_bin, "run", "--checkpoint-dir", str(ckdir), "--checkpoint-interval", "100ms", app,
            "--in", "Words@127.0.0.1:%d" % port, "--out", out.address]
    first = workers.spawn(argv, label="first")
    first.wait_ready()
    send_frames(port, [frame(k) for _ in range(3) for k in keys])
    assert out.wait_for(lambda r: len(r.lines()) >= 30, timeout=20), first.stderr()
    # Idle: no checkpoint after the one that took the last change (none is written without a change).
    last = [None]

    def settled():
        ids = completed(first.stderr())
        if ids and ids == last[0]:
            return True
        last[0] = ids
        return False
    assert wait_until(settled, 20, 0.5), first.stderr()
    sigkill(first)
    assert sorted(out.lines()) == sorted("%s %d %d" % (k, n, n) for n in range(1, 4) for k in keys)
    second = workers.spawn(argv, label="second")
    second.wait_ready()
    assert RECOVERY_DONE.search(second.stderr()).groups() == (str(last[0][-1]), str(2 * len(keys)))
    send_frames(port, [frame(k) for _ in range(2) for k in keys])
    assert out.wait_for(lambda r: len(r.per_connection()) == 2 and len(r.per_connection()[1].split(b"\n")) > 20,
                        timeout=20), second.stderr()
    out.wait_quiet(0.3)
    assert second.stop() == 0
    assert out.per_connection()[1].decode().split("\n")[:-1] == ["%s %d %d" % (k, n, n) for n in (4, 5)
                                                                 for k in keys]


def test_a_second_live_worker_on_the_same_files_is_refused(roo_bin, tmp_path, workers, receiver):
    """Oracle: while a worker runs with its checkpoint files, a second process with the same identity (a pod
    restarted while the old one still runs) exits 1 with one line naming the worker and the lock; the first is
    untouched and still completes checkpoints."""
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    first = workers.spawn(roo_argv(roo_bin, ckdir, SEQ_APP, out, "--per-key", "100000", "--pause-every", "50",
                                   "--pause-ms", "5"), label="first", env=worker_env())
    first.wait_ready()
    assert wait_until(lambda: len(completed(first.stderr())) >= 1, 30, 0.01), first.stderr()
    code, err = run_refused(roo_argv(roo_bin, ckdir, SEQ_APP, Unreachable()))
    lock = os.path.join(app_folder(ckdir), ".owner-initializer")
    assert (code, err.splitlines()[-1]) == (
        1, "roo run: unable to use checkpoint directory %s: worker 'initializer' of app 'Sequence check' is running "
           "already with these files (another process holds %s)" % (ckdir, lock)), err
    before = len(completed(first.stderr()))
    assert wait_until(lambda: len(completed(first.stderr())) > before, 30, 0.01), first.stderr()
    assert first.stop() == 0, first.stderr()
