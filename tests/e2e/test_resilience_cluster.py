"""Resilience on a cluster: kill -9 workers of a checkpointing cluster (the initializer included), restart them with
the same command, and check that state goes on exactly.

The app is cluster_apps/seq_check.py: every worker's generator counts 0..EVENTS-1 (rate-limited so a run lasts
several seconds), spread over KEYS keys per worker; each key's state checks its sequence numbers inline and outputs
`GAP ...` for a number that does not follow the last one (an event lost, or counted twice, in state).

The oracle of every fault test (`assert_exact_final_state`):
  * no `GAP` line, ever;
  * every key's last output line holds the final sequence number EVENTS/KEYS - 1, as a run without faults ends;
    lines before it may repeat (outputs are at least once after a rollback), so lines are never counted;
  * each key's sequence number 0 is output exactly once: faults start after checkpoint 2, so a recovery that
    started again from nothing (which also ends exact and without a GAP) is caught.

Env: ROO_FAULT_ROUNDS (kill rounds of every fault loop; CI defaults: 10 with 2 workers, 10 with 3, 5 for two keys-by,
3 for two-of-three; 100+ on demand), ROO_FAULT_SEED (the random seed, printed by each test: it repeats the choice of
victims and delays, not the machine's timing).
"""
import collections
import os
import random
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import READY_LINE, wait_until
from test_ctl import Supervisor, children_of

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cluster_apps", "seq_check.py")
EVENTS = 40000                      # per worker's generator
KEYS = 20                           # per worker's generator
FINAL = EVENTS // KEYS - 1          # every key's final sequence number
# 800 pauses of 10 ms: a run without faults takes ~8 s, so kills land mid-stream.
LOAD = ["--events", str(EVENTS), "--keys", str(KEYS), "--pause-every", "50", "--pause-ms", "10"]
INTERVAL = "100ms"

# Generous for a loaded 2-core machine: a restarted worker needs Python started and the cluster formed again.
READY_AFTER_RESTART = 45.0
FINISH_TIMEOUT = 90.0

FORMED_AGAIN = "the cluster formed again after rollback"


def rounds(default):
    return int(os.environ.get("ROO_FAULT_ROUNDS", default))


def seeded_random(label):
    seed = int(os.environ.get("ROO_FAULT_SEED", random.randrange(1 << 30)))
    print("%s: ROO_FAULT_SEED=%d" % (label, seed))
    return random.Random(seed)


def worker_names(size):
    return ["initializer"] + ["worker%d" % i for i in range(1, size)]


def expected_keys(size):
    return set("%s:%d" % (name, k) for name in worker_names(size) for k in range(KEYS))


def final_state(lines):
    """({key: its last line's sequence number}, [GAP lines]); the last line of each key is the newest one since
    the receiver keeps each connection apart and a restarted worker's sink is a later connection."""
    last, gaps = {}, []
    for line in lines:
        if line.startswith("GAP"):
            gaps.append(line)
            continue
        fields = line.split(",")
        last[fields[0]] = tuple(int(f) for f in fields[1:])
    return last, gaps


def finished(out, size):
    last, gaps = final_state(out.lines())
    return bool(gaps) or (set(last) == expected_keys(size) and all(v[0] == FINAL for v in last.values()))


def assert_exact_final_state(out, size, logs, hops=1):
    """The oracle: no GAP line; every key of every worker's generator ends at FINAL (in each state stage); and
    each key's sequence number 0 was output exactly once: the faults came after checkpoint 2, so every recovery
    restored a checkpoint instead of starting again from nothing (which would also end at FINAL without a GAP)."""
    ok = out.wait_for(lambda r: finished(r, size), timeout=FINISH_TIMEOUT)
    out.wait_quiet(0.5, timeout=10)
    lines = out.lines()
    last, gaps = final_state(lines)
    assert not gaps, "%d GAP lines, first: %s\n%s" % (len(gaps), gaps[:5], logs())
    assert ok, "not finished after %.0f s: %d keys of %d, behind: %s\n%s" % (
        FINISH_TIMEOUT, len(last), len(expected_keys(size)),
        sorted((k, v) for k, v in last.items() if v[0] != FINAL)[:10], logs())
    assert set(last) == expected_keys(size)
    want = (FINAL,) * hops
    wrong = sorted((k, v) for k, v in last.items() if v != want)
    assert not wrong, "keys whose final state is not %s: %s" % (want, wrong[:10])
    firsts = {}
    for line in lines:
        fields = line.split(",")
        if fields[1] == "0":
            firsts[fields[0]] = firsts.get(fields[0], 0) + 1
    again = sorted(k for k in expected_keys(size) if firsts.get(k) != 1)
    assert not again, "keys whose sequence number 0 was output %s times (started again from nothing?): %s\n%s" % (
        [firsts.get(k, 0) for k in again[:10]], again[:10], logs())
    return last


def last_complete(log):
    """The id of the newest checkpoint the initializer's log calls complete."""
    ids = [int(i) for i in re.findall(r"initializer: checkpoint (\d+) complete on \d+ workers", log)]
    assert ids, "no checkpoint complete in:\n%s" % log
    return max(ids)


def recovered_from(log, names):
    """The checkpoint id every one of `names` logged its recovery from (the same for all of them)."""
    found = dict((name, re.findall(r"%s: recovery from checkpoint (\d+) complete: \d+ keys restored" % name, log))
                 for name in names)
    assert all(len(ids) == 1 for ids in found.values()), "one recovery line per worker expected: %s\n%s" % (
        found, log)
    ids = set(int(ids[0]) for ids in found.values())
    assert len(ids) == 1, "the workers restored different checkpoints: %s" % found
    return ids.pop()


class Restarts(object):
    """Kill -9 and restart members of a conftest Cluster with the same command; each run of a member logs to its
    own file (<name>.run<i>), so the logs of every run stay readable."""

    def __init__(self, c):
        self.c = c
        self.runs = dict((m.name, [m.worker]) for m in c.members)

    def kill(self, index):
        m = self.c[index]
        m.worker.proc.kill()
        m.worker.proc.wait()

    def restart(self, index):
        m = self.c[index]
        argv = m.worker.argv
        m.worker = self.c.factory.workers.spawn(argv, label="%s.run%d" % (m.name, len(self.runs[m.name]) + 1),
                                                env=self.c.env)
        self.runs[m.name].append(m.worker)
        return m

    def log(self, name):
        return "".join(w.stderr() for w in self.runs[name])

    def logs(self):
        parts = []
        for name, runs in self.runs.items():
            for i, w in enumerate(runs):
                parts.append("---- %s run %d (exit %s)\n%s" % (name, i + 1, w.proc.returncode, w.stderr()))
        return "\n".join(parts)

    def running(self):
        """Every member's current run printed the ready line and none is forming the cluster again."""
        for m in self.c.members:
            if m.proc.poll() is not None:
                pytest.fail("%s exited with %s\n%s" % (m.name, m.proc.returncode, self.logs()), pytrace=False)
            err = m.stderr()
            if READY_LINE not in err or err.count("rolling back (rollback") != err.count(FORMED_AGAIN):
                return False
        return True

    def wait_all_ready(self, timeout=READY_AFTER_RESTART):
        if not wait_until(self.running, timeout, interval=0.05):
            pytest.fail("the cluster did not run again within %.0f s\n%s" % (timeout, self.logs()), pytrace=False)


def start_cluster(cluster, receiver, tmp_path, size, extra=()):
    out = receiver()
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    c = cluster(APP, size, out.address, app_args=LOAD + list(extra),
                run_flags=["--checkpoint-dir", str(ckpt), "--checkpoint-interval", INTERVAL])
    r = Restarts(c)
    # No fault before checkpoint 2 is complete (see assert_exact_final_state).
    assert c[0].wait_for_log("checkpoint 2 complete on %d workers" % size, timeout=30), r.logs()
    return c, out, r


def progress(out):
    """The smallest sequence number among the keys' last lines (how far the stream is)."""
    last, _ = final_state(out.lines())
    return min(v[0] for v in last.values()) if last else -1


def fault_loop(c, r, out, rng, rounds_wanted, label):
    """Kill -9 a random member at a random moment and restart it, `rounds_wanted` times; about a third of the kills
    come shortly after a restart (while the cluster forms again and restores): every third round, and a quarter of
    the others. Returns (kills, how many came while a worker had not yet run again)."""
    during_recovery = 0
    recovering = False
    victims = []
    for n in range(rounds_wanted):
        if recovering and (n % 3 == 1 or rng.random() < 0.25):
            # While the restarted worker starts, joins and restores, or the others roll back. That takes only 50 to
            # 100 ms on a fast machine, so these kills come within 50 ms; round 1's comes at once, so that at least
            # one kill surely lands before the restarted worker is ready (a CI run once had none in ten rounds).
            time.sleep(0.0 if n == 1 else rng.uniform(0.0, 0.05))
        else:
            if recovering:
                r.wait_all_ready()
            time.sleep(rng.uniform(0.2, 1.2))           # mid-stream
        victim = rng.randrange(len(c.members))
        if not r.running():
            during_recovery += 1
        r.kill(victim)
        victims.append("%s@%d" % (c[victim].name, progress(out)))
        time.sleep(rng.uniform(0.0, 0.3))
        r.restart(victim)
        recovering = True
    r.wait_all_ready()
    print("%s: %d kills (name@stream progress: %s), %d during a recovery" % (
        label, len(victims), " ".join(victims), during_recovery))
    return victims, during_recovery


@pytest.mark.parametrize("size,default_rounds", [(2, 10), (3, 10)], ids=["2-workers", "3-workers"])
def test_fault_loop_kill_9_random_worker_and_restart(cluster, receiver, tmp_path, size, default_rounds):
    """Oracle: after ROO_FAULT_ROUNDS kill -9 + restart rounds of a random worker (the initializer included, some
    during a recovery), no GAP line and every key's final state is FINAL, as in a run without faults."""
    rng = seeded_random("fault loop, %d workers" % size)
    c, out, r = start_cluster(cluster, receiver, tmp_path, size)
    started = time.monotonic()
    victims, during_recovery = fault_loop(c, r, out, rng, rounds(default_rounds), "fault loop, %d workers" % size)
    assert_exact_final_state(out, size, r.logs)
    recoveries = sum(r.log(name).count("recovery from checkpoint") // 2 for name in worker_names(size))
    print("fault loop, %d workers: exact final state of %d keys after %.1f s (%d recoveries logged)" % (
        size, len(expected_keys(size)), time.monotonic() - started, recoveries))
    if len(victims) >= 3:
        assert during_recovery >= 1, "no kill came during a recovery: the loop did not test it"
    c.stop()


def test_whole_cluster_kill_9_and_restart_of_all(cluster, receiver, tmp_path):
    """Oracle: every worker killed -9 mid-stream at once, then all restarted with the same commands: the cluster
    restores the newest complete checkpoint (each worker logs its recovery), no GAP line, every key ends at FINAL."""
    size = 2
    c, out, r = start_cluster(cluster, receiver, tmp_path, size)
    # Mid-stream: some checkpoints complete, the stream far from its end.
    assert c[0].wait_for_log("checkpoint 3 complete on 2 workers", timeout=20), r.logs()
    time.sleep(1.0)
    for i in range(size):
        r.kill(i)
    logged = last_complete(c[0].stderr())
    last, gaps = final_state(out.lines())
    assert not gaps and last and max(v[0] for v in last.values()) < FINAL, "not mid-stream: %s" % sorted(last.items())
    for i in reversed(range(size)):
        r.restart(i)
    r.wait_all_ready()
    # The newest complete checkpoint: the last one logged complete, or one completed just before the kill.
    restored = recovered_from("".join(m.stderr() for m in c.members), worker_names(size))
    assert restored >= logged, "checkpoint %d logged complete, but %d restored\n%s" % (logged, restored, r.logs())
    assert_exact_final_state(out, size, r.logs)
    print("whole-cluster kill: every worker restored and the state went on exactly")
    c.stop()


def test_two_keys_by_across_workers_survive_kills(cluster, receiver, tmp_path):
    """key_by -> state -> key_by -> state, so batches cross between the workers both ways (in flight at the cut).
    Oracle: after several kill -9 + restart rounds, no GAP line in either state stage, and every key's last line
    shows FINAL in both stages."""
    rng = seeded_random("two keys-by")
    c, out, r = start_cluster(cluster, receiver, tmp_path, 2, extra=["--hops", "2"])
    victims, _ = fault_loop(c, r, out, rng, rounds(5), "two keys-by")
    assert_exact_final_state(out, 2, r.logs, hops=2)
    c.stop()


def test_roo_run_workers_stopped_and_started_again_continues(roo_bin, receiver, tmp_path):
    """`roo run --workers 2 --checkpoint-dir D`: SIGTERM mid-stream, then the same command again. Oracle: the
    second run logs a recovery on both workers, no GAP line, every key ends at FINAL."""
    from conftest import free_port
    out = receiver()
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    args = ["--workers", "2", "--checkpoint-dir", str(ckpt), "--checkpoint-interval", INTERVAL, APP,
            "--out", out.address, "--external", "127.0.0.1:%d" % free_port()] + LOAD
    runs = []
    try:
        (tmp_path / "first").mkdir()
        first = Supervisor(roo_bin, tmp_path / "first", args)
        runs.append(first)
        first.wait_for("initializer: checkpoint 3 complete on 2 workers", timeout=30)
        first.proc.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0, first.stderr()
        last, gaps = final_state(out.lines())
        assert not gaps and last and max(v[0] for v in last.values()) < FINAL, \
            "not mid-stream: %s" % sorted(last.items())
        (tmp_path / "second").mkdir()
        second = Supervisor(roo_bin, tmp_path / "second", args)
        runs.append(second)
        for name in ("initializer", "worker1"):
            second.wait_for("[%s] " % name, timeout=30)
        assert_exact_final_state(out, 2, lambda: "\n".join(s.stderr() for s in runs))
        # The drain of a clean stop ends with a last checkpoint: the second run restores it and repeats nothing.
        assert recovered_from(second.stderr(), ["initializer", "worker1"]) == last_complete(first.stderr()), \
            second.stderr()
        repeated = [line for line, n in collections.Counter(out.lines()).items() if n > 1]
        assert not repeated, "%d lines output twice after a clean stop, e.g. %s\n%s" % (
            len(repeated), repeated[:5], "\n".join(s.stderr() for s in runs))
        second.proc.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, second.stderr()
    finally:
        for s in runs:
            s.close()
    print("roo run --workers 2: stopped mid-stream and started again; the state went on exactly, nothing repeated")


def supervised_worker(supervisor, name):
    """The pid of the `roo run --workers` child named `name` ("initializer" or "workerI"), from its command line."""
    for pid in children_of(supervisor.proc.pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if (name == "initializer" and "--cluster-initializer" in argv) or \
                ("--name" in argv and argv[argv.index("--name") + 1] == name):
            return pid
    return None


def test_roo_run_workers_starts_a_killed_worker_again(roo_bin, receiver, tmp_path):
    """`roo run --workers 2 --checkpoint-dir D`: kill -9 of a worker (the initializer, then worker1, then the
    initializer again; fewer than the supervisor's 5 restarts a minute): the supervisor says so and starts it again,
    the cluster rolls back. Oracle: no GAP line, every key ends at FINAL, no key started again from nothing; SIGTERM
    then stops every worker and roo run exits 0."""
    from conftest import free_port
    out = receiver()
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    args = ["--workers", "2", "--checkpoint-dir", str(ckpt), "--checkpoint-interval", INTERVAL, APP,
            "--out", out.address, "--external", "127.0.0.1:%d" % free_port()] + LOAD
    s = Supervisor(roo_bin, tmp_path, args)
    try:
        s.wait_for("initializer: checkpoint 2 complete on 2 workers", timeout=30)
        for n, name in enumerate(["initializer", "worker1", "initializer"]):
            pid = wait_until(lambda: supervised_worker(s, name), 30)
            assert pid, s.stderr()
            os.kill(pid, signal.SIGKILL)
            s.wait_for("roo run: %s was killed by SIGKILL; starting it again" % name, timeout=30)
            # The survivor (one line per kill: rollback counts are per process, the killed one starts from 0).
            assert wait_until(lambda: s.stderr().count(FORMED_AGAIN) == n + 1, 45), s.stderr()
            time.sleep(0.5)
        assert_exact_final_state(out, 2, s.stderr)
        s.proc.send_signal(signal.SIGTERM)
        assert s.wait(timeout=30) == 0, s.stderr()
    finally:
        s.close()
    print("roo run --workers 2: 3 workers killed and started again by the supervisor; the state went on exactly")


def test_kill_of_worker1_logs_rollback_and_recovery_on_the_initializer(cluster, receiver, tmp_path):
    """Oracle: after kill -9 of worker1 and its restart, the initializer's log has `rolling back (rollback 1)`,
    `recovery from checkpoint N complete:` (N a checkpoint it logged complete before the kill) and
    `the cluster formed again after rollback 1`, in that order; the state ends exact."""
    c, out, r = start_cluster(cluster, receiver, tmp_path, 2)
    assert c[0].wait_for_log("checkpoint 2 complete on 2 workers", timeout=20), r.logs()
    r.kill(1)
    assert c[0].wait_for_log("rolling back (rollback 1)", timeout=20), r.logs()
    r.restart(1)
    r.wait_all_ready()
    log = c[0].stderr()
    back = log.index("rolling back (rollback 1)")
    recovered = re.search(r"recovery from checkpoint (\d+) complete: \d+ keys restored", log[back:])
    assert recovered, log
    assert "checkpoint %s complete on 2 workers" % recovered.group(1) in log[:back], log
    assert log.index(FORMED_AGAIN + " 1: the stream goes on", back) > back + recovered.start()
    assert_exact_final_state(out, 2, r.logs)
    c.stop()


def test_two_of_three_workers_killed_at_once_and_restarted(cluster, receiver, tmp_path):
    """Two of three workers killed -9 together (the initializer among them or not), both restarted, a few rounds.
    Oracle: no GAP line, every key ends at FINAL, no key started again from nothing."""
    rng = seeded_random("two of three")
    c, out, r = start_cluster(cluster, receiver, tmp_path, 3)
    kills = []
    for _ in range(rounds(3)):
        time.sleep(rng.uniform(0.2, 1.0))
        victims = rng.sample(range(3), 2)
        for i in victims:
            r.kill(i)
        kills.append("+".join(c[i].name for i in victims))
        time.sleep(rng.uniform(0.0, 0.5))
        for i in victims:
            r.restart(i)
        r.wait_all_ready()
    assert_exact_final_state(out, 3, r.logs)
    print("two of three: killed %s; the state went on exactly" % " ".join(kills))
    c.stop()


@pytest.mark.parametrize("victim", [1, 0], ids=["worker1-killed", "initializer-killed"])
def test_a_killed_worker_not_restarted_makes_the_other_give_up(cluster, receiver, tmp_path, victim):
    """One worker killed -9 and not restarted: the other rolls back, waits for the cluster to form again for the
    join timeout (30 s), then gives up. Oracle: it exits 1 after the timeout (within a margin), its last line the
    error saying why (docs/errors.md)."""
    c, out, r = start_cluster(cluster, receiver, tmp_path, 2)
    survivor = c[1 - victim]
    r.kill(victim)
    started = time.monotonic()
    assert survivor.wait_for_log("rolling back (rollback 1)", timeout=20), r.logs()
    try:
        code = survivor.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("%s still runs 60 s after %s was killed\n%s" % (survivor.name, c[victim].name, r.logs()),
                    pytrace=False)
    c.stopped = True
    waited = time.monotonic() - started
    print("%s gave up after %.1f s with exit %d" % (survivor.name, waited, code))
    if victim == 1:
        want = "roo run: unable to form the cluster again after rollback 1: not every worker joined within 30 s"
    else:
        want = "roo run: unable to join the cluster at %s: the initializer did not answer within 30 s" % c[0].control
    assert (code, survivor.stderr().rstrip("\n").split("\n")[-1]) == (1, want), r.logs()
    assert waited >= 29.0, r.logs()


def test_forming_again_backs_off_when_it_fails_at_once(workers, tmp_path):
    # With checkpoints a cluster that did not form is formed again (a worker may be restarting). A failure that
    # comes at once, here the control port held by another process, used to repeat hundreds of times a millisecond.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    held = holder.getsockname()[1]
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    try:
        w = workers.spawn([workers.roo_bin, "run", "--checkpoint-dir", str(ckdir), APP] + LOAD + [
            "--out", "127.0.0.1:9", "--cluster-initializer", "--worker-count", "2", "--control",
            "127.0.0.1:%d" % held, "--data", "127.0.0.1:0"])
        time.sleep(3.5)
        w.send_signal(signal.SIGTERM)
        assert w.wait(timeout=20) == 0, w.stderr()
    finally:
        holder.close()
    delays = re.findall(r"the cluster did not form \(listen on 127\.0\.0\.1:%d for the control channel: address "
                        r"already in use\); forming again in (\d+) ms" % held, w.stderr())
    # 100 + 200 + 400 + 800 + 1600 ms: five or six tries in 3.5 s, each waiting twice as long as the one before
    assert 4 <= len(delays) <= 6, w.stderr()
    assert [int(d) for d in delays] == [min(100 * 2 ** i, 2000) for i in range(len(delays))], w.stderr()
    assert "stopped before the cluster formed" in w.stderr()
