"""Kafka to Kafka under faults (issue 10, "Tests"), modelled on Kafka's own transactions system test: copy keyed
messages through a stateful app, kill -9 workers at random moments (each after >= 20 % more progress) and restart
them with the same command, restart the broker once mid-stream, and read the output with read_committed readers,
one during the run (a thread consuming as it goes) and one after.

The app is kafka_apps/keyed_count.py: input messages are keyed "k<i>" and carry that key's sequence number; the app
keys the stream by the message key, checks every number follows the key's last one (its state), and writes
"key,n" with the key as the output's Kafka key, or "GAP key expected got" when a number does not follow (a message
lost, or counted twice, in state). The output's Kafka key keeps each key's outputs in one output partition, so the
order of a key's outputs is their order in that partition.

Oracles:
  * checkpoints on (exactly once): every (key, n) exactly once, in order per key, no GAP line, in the reader that
    ran during the run and in the one after it; so the final state is every key at PER_KEY - 1, as a fault-free run
    ends;
  * checkpoints off (at least once): every (key, n) at least once ("key,n", or the `got` of a GAP line: a restarted
    worker's state starts empty); duplicates are counted and printed.

Env: ROO_FAULT_ROUNDS (kills per run; default 3, each after >= 20 % more progress than the kill before it),
ROO_FAULT_SEED (the random seed, printed by each test: it repeats the choice of victims and moments, not the
machine's timing), ROO_FAULT_APP_FLAGS (more flags for the app, e.g. "--kafka_source_property debug=fetch,topic"
with ROO_FAULT_ROO_FLAGS="--log-level debug" to see what librdkafka did; each worker's stderr is a file in the
test's tmp_path).
"""
import collections
import os
import random
import re
import signal
import threading
import time

import pytest

from conftest import wait_until
from test_kafka import KEYED_COUNT, kafka_args, keyed_messages

KEYS = 50
PARTITIONS = 4
PER_KEY = 2000
TOTAL = KEYS * PER_KEY          # 100k messages
INTERVAL = "200ms"
# 0.2 ms of work per message: 100k messages take ~25 s of processing, so every fault lands mid-stream.
APP_FLAGS = ["--slow-ms", "0.2"] + os.environ.get("ROO_FAULT_APP_FLAGS", "").split()
ROO_FLAGS = os.environ.get("ROO_FAULT_ROO_FLAGS", "").split()
FINISH_TIMEOUT = 120.0


def rounds(default=3):
    return int(os.environ.get("ROO_FAULT_ROUNDS", default))


def seeded_random(label):
    seed = int(os.environ.get("ROO_FAULT_SEED", random.randrange(1 << 30)))
    print("%s: ROO_FAULT_SEED=%d" % (label, seed))
    return seed, random.Random(seed)


class CommittedReader(object):
    """A read_committed consumer of the output topic in a thread, from the start of every partition, as the run
    goes: what it read in each partition's order, how many records, and how many distinct (key, n) it saw."""

    def __init__(self, kafka, topic):
        self.kafka = kafka
        self.topic = topic
        self.records = []
        self.seen = set()      # (key, n) of "key,n" lines and the `got` of GAP lines
        self.error = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="read_committed", daemon=True)
        self._thread.start()

    def _run(self):
        ck = self.kafka.ck
        consumer = self.kafka.consumer(**{"isolation.level": "read_committed", "enable.auto.commit": False,
                                          "group.id": "roo-fault-reader-%d" % id(self),
                                          "auto.offset.reset": "earliest", "log_level": 0})
        try:
            partitions = self.kafka.partitions(self.topic)
            consumer.assign([ck.TopicPartition(self.topic, p, ck.OFFSET_BEGINNING) for p in partitions])
            while not self._stop.is_set():
                for message in consumer.consume(1000, 0.1):
                    if message.error() is not None:
                        if message.error().code() != ck.KafkaError._PARTITION_EOF:
                            self.error = str(message.error())
                        continue
                    self._note(message)
        except Exception as error:  # noqa: BLE001  (reported by the test)
            self.error = repr(error)
        finally:
            consumer.close()

    def _note(self, message):
        """Keeps one record of the output topic (the reader's thread)."""
        line = message.value().decode()
        if line.startswith("GAP "):
            _, key, _, n = line.split()
        else:
            key, n = line.split(",")
        with self._lock:
            self.records.append((message.partition(), message.offset(), message.key(), message.value()))
            self.seen.add((key, int(n)))

    def count(self):
        with self._lock:
            return len(self.records)

    def distinct(self):
        with self._lock:
            return len(self.seen)

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        with self._lock:
            return sorted(self.records)


def outputs_by_key(records):
    """{key: [(n, is_gap_line)]} in each key's output order; records are (partition, offset, key, value)."""
    by_key = collections.defaultdict(list)
    gaps = []
    for _, _, key, value in sorted(records):
        line = value.decode()
        if line.startswith("GAP "):
            _, gkey, _, got = line.split()
            gaps.append(line)
            by_key[gkey].append(int(got))
        else:
            k, n = line.split(",")
            assert k == key.decode(), "output %r under Kafka key %r" % (line, key)
            by_key[k].append(int(n))
    return by_key, gaps


def exactly_once_problems(records):
    """What breaks exactly once in `records` (empty when none): GAP lines, duplicates, missing, out of order."""
    by_key, gaps = outputs_by_key(records)
    problems = []
    if gaps:
        problems.append("%d GAP lines, first %s" % (len(gaps), gaps[:5]))
    want = list(range(PER_KEY))
    missing_keys = sorted(set("k%d" % i for i in range(KEYS)) - set(by_key))
    if missing_keys:
        problems.append("keys without output: %s" % missing_keys[:10])
    for key in sorted(by_key):
        got = by_key[key]
        if got == want:
            continue
        counts = collections.Counter(got)
        dups = sorted(n for n, c in counts.items() if c > 1)
        missing = sorted(set(want) - set(counts))
        first_bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        problems.append("%s: %d outputs, %d duplicated (first %s), %d missing (first %s), first out of place at %d: "
                        "%s" % (key, len(got), len(dups), dups[:5], len(missing), missing[:5], first_bad,
                                got[max(0, first_bad - 3):first_bad + 5]))
    return problems


def at_least_once_report(records):
    """(missing [(key, n)], duplicate outputs count) of `records`."""
    by_key, _ = outputs_by_key(records)
    missing = []
    duplicates = 0
    for i in range(KEYS):
        key = "k%d" % i
        counts = collections.Counter(by_key.get(key, []))
        missing += [(key, n) for n in range(PER_KEY) if counts[n] == 0]
        duplicates += sum(c - 1 for c in counts.values() if c > 1)
    return missing, duplicates


def make_topics(kafka):
    source, sink = kafka.unique_topic("fin"), kafka.unique_topic("fout")
    kafka.create_topic(source, partitions=PARTITIONS)
    kafka.create_topic(sink, partitions=PARTITIONS)
    started = time.monotonic()
    kafka.produce(source, keyed_messages(keys=KEYS, per_key=PER_KEY, partitions=PARTITIONS))
    print("produced %d messages in %.1f s" % (TOTAL, time.monotonic() - started))
    return source, sink


def fault_plan(rng, kills):
    """[(fault, progress step)]: `kills` kills, each after >= 20 % more progress than the kill before it (a random
    moment in the next 20-22.5 %; more kills than fit in the stream share 80 % of it in equal steps), and one broker
    restart at a random place among them, 3-8 % after the fault before it."""
    step = min(0.2, 0.8 / kills)
    plan = [("kill", step + rng.uniform(0.0, step / 8)) for _ in range(kills)]
    plan.insert(rng.randrange(kills + 1), ("broker", rng.uniform(0.03, 0.08)))
    return plan


SINK_RECOVERED = re.compile(r"kafka_sink 'sink 0': (checkpoint \d+ was committed before the restart|committed "
                            r"checkpoint \d+ again after the restart)")


def run_faults(kafka, reader, plan, kill, restart, label, logs):
    """Run `plan`: each fault once the reader has seen its step's share of TOTAL more distinct outputs than at the
    fault before it (for a kill: at the kill before it). `kill()` kills one worker -9 and returns its name;
    `restart(name)` starts it again and returns its Worker. With checkpoints, a broker restart also waits until the
    last restarted worker's sink recovered (its init_transactions aborted the killed one's open transaction).
    Without that wait, one run of 5 (1 worker) once failed: a broker restart that came 0.1 s after a kill, while the
    restarted worker started, left the killed worker's open transaction (producer epoch 0) without an abort marker,
    and the commit marker of a later instance (epoch 2) made its records visible: duplicates (open; not reproduced
    since).
    Returns what was done, as "fault@distinct outputs seen"."""
    done = []
    last_kill = last_fault = 0
    replacement = None
    for fault, step in plan:
        want = int((last_kill if fault == "kill" else last_fault) + step * TOTAL)
        # A commit may release many outputs at once, so the fault before may have come late enough that `want` is
        # past the end: then wait for the end (and skip the rest, below), not for output that cannot come.
        ok = wait_until(lambda: reader.distinct() >= min(want, TOTAL) or reader.error, FINISH_TIMEOUT, interval=0.01)
        assert ok and not reader.error, "%s: output stuck at %d of %d before a %s at %d (reader error: %s)\n%s" % (
            label, reader.distinct(), TOTAL, fault, want, reader.error, logs())
        if fault == "broker" and replacement is not None and "--checkpoint-dir" in replacement.argv:
            assert wait_until(lambda: SINK_RECOVERED.search(replacement.stderr()), FINISH_TIMEOUT), \
                "%s: the restarted worker's sink did not recover\n%s" % (label, logs())
        seen = reader.distinct()
        if seen >= TOTAL:
            # Exactly-once output arrives a checkpoint's worth at a time, and after a recovery one commit may
            # release the rest of the stream at once: the remaining faults cannot happen. The kills done still
            # count (the first one always comes at ~20 %); the output is checked as usual.
            assert any(d.startswith("kill") for d in done), \
                "%s: the stream ended before the first kill at %d: make it slower\n%s" % (label, want, logs())
            done.append("%s skipped: the stream ended before %d" % (fault, want))
            break
        if fault == "broker":
            started = time.monotonic()
            kafka.restart()
            done.append("broker restart@%d (%.1f s)" % (seen, time.monotonic() - started))
        else:
            name = kill()
            replacement = restart(name)
            done.append("kill -9 %s@%d" % (name, seen))
            last_kill = seen
        last_fault = seen
    print("%s: %s" % (label, ", ".join(done)))
    return done


def wait_output(reader, count, label, logs):
    ok = wait_until(lambda: reader.distinct() >= count or reader.error, FINISH_TIMEOUT, interval=0.05)
    assert ok and not reader.error, "%s: %d distinct outputs of %d after %.0f s (reader error: %s)\n%s" % (
        label, reader.distinct(), count, FINISH_TIMEOUT, reader.error, logs())
    time.sleep(1.0)   # anything past the expected count would be a duplicate: give it a moment to show


def assert_exactly_once(kafka, sink, during, label, logs):
    problems = exactly_once_problems(during)
    assert not problems, "%s: the reader during the run saw %d outputs:\n  %s\n%s" % (
        label, len(during), "\n  ".join(problems[:20]), logs())
    after = [(r.partition, r.offset, r.key, r.value) for r in kafka.consume(sink, timeout=60, idle=1.0)]
    problems = exactly_once_problems(after)
    assert not problems, "%s: the reader after the run saw %d outputs:\n  %s\n%s" % (
        label, len(after), "\n  ".join(problems[:20]), logs())
    assert len(during) == len(after) == TOTAL


class SingleWorker(object):
    """One `roo run` worker restarted with the same command after each kill; each run logs to its own file."""

    def __init__(self, workers, argv):
        self.workers = workers
        self.argv = argv
        self.runs = []
        self.start()

    def start(self):
        self.runs.append(self.workers.spawn(self.argv, label="worker.run%d" % (len(self.runs) + 1)))

    @property
    def current(self):
        return self.runs[-1]

    def kill(self):
        self.current.kill()
        return "worker"

    def restart(self, _name):
        self.start()
        return self.current

    def logs(self):
        return "\n".join("---- run %d (exit %s)\n%s" % (i + 1, w.proc.returncode, w.stderr()[-6000:])
                         for i, w in enumerate(self.runs))


def test_exactly_once_one_worker_kills_and_a_broker_restart(kafka, workers, tmp_path):
    """1 worker, checkpoints every 200 ms: ROO_FAULT_ROUNDS kill -9 + restart rounds, each after >= 20 % more output,
    and one broker restart among them. Oracle: read_committed readers during and after see every (key, n) exactly
    once, in order per key, no GAP line."""
    label = "exactly once, 1 worker"
    seed, rng = seeded_random(label)
    source, sink = make_topics(kafka)
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    argv = ([workers.roo_bin, "run"] + ROO_FLAGS + ["--checkpoint-dir", str(ckdir), "--checkpoint-interval", INTERVAL,
                                                    KEYED_COUNT] + APP_FLAGS + kafka_args(kafka, source, sink))
    reader = CommittedReader(kafka, sink)
    started = time.monotonic()
    w = SingleWorker(workers, argv)
    logs = lambda: "ROO_FAULT_SEED=%d\n%s" % (seed, w.logs())  # noqa: E731
    try:
        run_faults(kafka, reader, fault_plan(rng, rounds()), w.kill, w.restart, label, logs)
        wait_output(reader, TOTAL, label, logs)
    finally:
        during = reader.stop()
        if not kafka.broker.running():
            kafka.start()
    print("%s: %d outputs in %.1f s" % (label, len(during), time.monotonic() - started))
    assert_exactly_once(kafka, sink, during, label, logs)
    assert w.current.stop(signal.SIGTERM) == 0, logs()


class ClusterRestarts(object):
    """Kill -9 a random member of a conftest Cluster and restart it with the same command (Restarts of
    test_resilience_cluster: each run logs to its own file)."""

    def __init__(self, c, rng):
        from test_resilience_cluster import Restarts
        self.c = c
        self.rng = rng
        self.r = Restarts(c)

    def kill(self):
        victim = self.rng.randrange(len(self.c.members))
        self.r.kill(victim)
        return self.c[victim].name

    def restart(self, name):
        time.sleep(self.rng.uniform(0.0, 0.3))
        return self.r.restart([m.name for m in self.c.members].index(name)).worker

    def logs(self):
        return self.r.logs()


@pytest.mark.parametrize("size", [2, 3], ids=["2-workers", "3-workers"])
def test_exactly_once_cluster_kills_of_random_workers_and_a_broker_restart(kafka, cluster, tmp_path, size):
    """A cluster of `size` workers, checkpoints every 200 ms: ROO_FAULT_ROUNDS kill -9 + restart rounds of a random
    worker (the initializer included), each after >= 20 % more output, and one broker restart among them. Oracle:
    read_committed readers during and after see every (key, n) exactly once, in order per key, no GAP line."""
    label = "exactly once, %d workers" % size
    seed, rng = seeded_random(label)
    source, sink = make_topics(kafka)
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    reader = CommittedReader(kafka, sink)
    started = time.monotonic()
    c = cluster(KEYED_COUNT, size, "127.0.0.1:9", app_args=APP_FLAGS + kafka_args(kafka, source, sink),
                run_flags=["--checkpoint-dir", str(ckdir), "--checkpoint-interval", INTERVAL], ready=False)
    r = ClusterRestarts(c, rng)
    logs = lambda: "ROO_FAULT_SEED=%d\n%s" % (seed, r.logs())  # noqa: E731
    try:
        run_faults(kafka, reader, fault_plan(rng, rounds()), r.kill, r.restart, label, logs)
        wait_output(reader, TOTAL, label, logs)
    finally:
        during = reader.stop()
        if not kafka.broker.running():
            kafka.start()
    print("%s: %d outputs in %.1f s" % (label, len(during), time.monotonic() - started))
    assert_exactly_once(kafka, sink, during, label, logs)
    c.stop()


def test_at_least_once_without_checkpoints_under_the_same_faults(kafka, workers, tmp_path):
    """1 worker without checkpoints (at least once: offsets committed after the sink's broker acknowledged what came
    before), the same kills and broker restart. Oracle: every (key, n) is output at least once (as "key,n", or as
    the `got` of a GAP line: a restarted worker's state starts empty); duplicates are counted and printed."""
    label = "at least once, 1 worker"
    seed, rng = seeded_random(label)
    source, sink = make_topics(kafka)
    argv = [workers.roo_bin, "run", KEYED_COUNT] + APP_FLAGS + kafka_args(kafka, source, sink)
    reader = CommittedReader(kafka, sink)
    started = time.monotonic()
    w = SingleWorker(workers, argv)
    logs = lambda: "ROO_FAULT_SEED=%d\n%s" % (seed, w.logs())  # noqa: E731
    try:
        run_faults(kafka, reader, fault_plan(rng, rounds()), w.kill, w.restart, label, logs)
        wait_output(reader, TOTAL, label, logs)
    finally:
        records = reader.stop()
        if not kafka.broker.running():
            kafka.start()
    missing, duplicates = at_least_once_report(records)
    print("%s: %d outputs in %.1f s, %d duplicates, %d missing" % (
        label, len(records), time.monotonic() - started, duplicates, len(missing)))
    assert not missing, "%s: %d (key, n) never output, first %s\n%s" % (label, len(missing), missing[:10], logs())
    assert w.current.stop(signal.SIGTERM) == 0, logs()


def test_a_zombie_worker_cannot_commit_after_its_replacement_started(kafka, workers, tmp_path):
    """Zombie fencing: a worker with checkpoints is SIGSTOPped mid-stream (a worker thought dead that still runs);
    its replacement starts with the same command and name, on a copy of the zombie's checkpoint folder (as a
    rescheduled pod gets the volume while the zombie keeps what it had), restores, fences the zombie's transactional
    producer (same transactional.id) and goes on. Then SIGCONT. Oracle: the zombie's sink logs that it was fenced in
    exactly one line, and no checkpoint completes on the zombie after it (each one fails with that cause); the
    read_committed output has every (key, n) exactly once, in order per key, no GAP line; SIGTERM then stops the
    zombie with exit 1 and its output counted as not delivered."""
    import shutil
    label = "zombie"
    source, sink = make_topics(kafka)
    ckdir, copy = tmp_path / "ck", tmp_path / "ck-replacement"
    ckdir.mkdir()
    flags = ["--checkpoint-interval", INTERVAL, KEYED_COUNT] + APP_FLAGS + kafka_args(kafka, source, sink)
    reader = CommittedReader(kafka, sink)
    zombie = workers.spawn([workers.roo_bin, "run", "--checkpoint-dir", str(ckdir)] + flags, label="zombie")
    replacement = None
    logs = lambda: workers.logs()  # noqa: E731
    fenced = ("E roo.io initializer: kafka_sink 'sink 0': fenced by a newer instance with transactional.id "
              "'roo.Kafka keyed count.sink 0.initializer' (topic '%s'); the sink stops writing\n" % sink)
    try:
        assert wait_until(lambda: reader.distinct() >= TOTAL // 5, FINISH_TIMEOUT), logs()
        zombie.send_signal(signal.SIGSTOP)
        stopped_at = reader.distinct()
        shutil.copytree(str(ckdir), str(copy))
        replacement = workers.spawn([workers.roo_bin, "run", "--checkpoint-dir", str(copy)] + flags,
                                    label="replacement")
        # The replacement restored the zombie's checkpoint and commits its own transactions.
        assert wait_until(lambda: reader.distinct() >= stopped_at + TOTAL // 10, FINISH_TIMEOUT), logs()
        zombie.send_signal(signal.SIGCONT)
        assert zombie.wait_for_log(fenced, timeout=30), logs()
        wait_output(reader, TOTAL, label, logs)
        time.sleep(2)  # anything the zombie still managed to commit would show now
    finally:
        if zombie.proc.poll() is None:
            zombie.send_signal(signal.SIGCONT)
        during = reader.stop()
    assert_exactly_once(kafka, sink, during, label, logs)
    log = zombie.stderr()
    assert log.count(fenced) == 1, log
    after = log[log.index(fenced):]
    assert " complete: " not in after, "a checkpoint completed on the zombie after it was fenced:\n%s" % after
    failed = [line for line in after.splitlines() if " failed: " in line]
    assert all("fenced by a newer instance" in line for line in failed), failed
    assert zombie.stop(signal.SIGTERM) == 1, zombie.stderr()
    assert "E roo.runtime initializer: not everything was delivered: " in zombie.stderr(), zombie.stderr()
    print("zombie: fenced in one line, %d checkpoints failed after it, nothing committed" % len(failed))
    assert replacement.stop(signal.SIGTERM) == 0, logs()


def test_exactly_once_when_the_broker_restarts_while_a_killed_worker_starts_again(kafka, workers, tmp_path):
    """kill -9 of the worker right after a commit (its next transaction holds the outputs that waited for it), its
    restart, and a broker restart at once (while the restarted worker initializes its transactions), then kill -9 of
    that one and a restart. Oracle: read_committed readers during and after see every (key, n) exactly once, in order
    per key, no GAP line. (The sequence of the one exactly-once failure seen, which this does not reproduce: see
    run_faults.)"""
    label = "broker restart after a kill"
    source, sink = make_topics(kafka)
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    argv = ([workers.roo_bin, "run"] + ROO_FLAGS + ["--checkpoint-dir", str(ckdir), "--checkpoint-interval", INTERVAL,
                                                    KEYED_COUNT] + APP_FLAGS + kafka_args(kafka, source, sink))
    reader = CommittedReader(kafka, sink)
    w = SingleWorker(workers, argv)
    logs = w.logs
    try:
        assert wait_until(lambda: reader.distinct() >= TOTAL // 5, FINISH_TIMEOUT), logs()
        # Right after a commit became visible: the next transaction holds the outputs that waited for it.
        seen = reader.distinct()
        assert wait_until(lambda: reader.distinct() > seen + 1000, FINISH_TIMEOUT, interval=0.005), logs()
        w.kill()
        w.restart("worker")
        kafka.restart()      # while the restarted worker starts: its init_transactions meets the restart
        w.kill()
        w.restart("worker")
        wait_output(reader, TOTAL, label, logs)
    finally:
        during = reader.stop()
        if not kafka.broker.running():
            kafka.start()
    assert_exactly_once(kafka, sink, during, label, logs)
    assert w.current.stop(signal.SIGTERM) == 0, logs()
