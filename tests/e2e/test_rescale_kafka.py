"""Growing and shrinking a running cluster that reads Kafka (issue 16; docs/kafka.md, "Partitions and workers";
docs/cluster.md, "Growing and shrinking a running cluster"), checkpoints off.

Partition p of the source's topic is read by the live worker p mod L (live: the workers that have not left, in
membership order; L: their count). At a rescale's move every worker stops its Kafka source and commits, for each
partition it no longer reads, its position to the consumer group (a leaver hands on all of its partitions); at the
resume each worker reads again, the partitions it kept from its own positions and those it took from the group's
committed offsets. With checkpoints on, an app with a Kafka source is still refused rescaling.

Real workers, real sockets, the session's real broker (the `kafka` fixture). The app is kafka_apps/rescale_count.py:
cluster_apps/key_count.py's count per key with an inline order check, fed by a Kafka source. A `SteadyProducer`
writes keyed messages (key k<i> always to partition i % PARTITIONS, each key's sequence numbers 0, 1, 2, ... in
order) while workers join or leave; every worker's sink writes to one TCP receiver.

The oracle is test_rescale.py's (`assert_exact_counts`): no GAP line, and each key's lines carry the counts 1..n
exactly once, n being the number of messages produced for it: nothing lost, nothing counted twice, no message of a
key overtook an earlier one across a migration. Besides: each worker's output has each key's counts in increasing
order, after a clean stop the group's committed offsets are at every partition's end, and each worker's log names
the partitions it read and handed on in every round, as the rule above deals them.

Env: ROO_RESCALE_ROUNDS (rounds of the kill-a-joiner-mid-migration loop; CI default 1, more on demand).
"""
import os
import re
import signal
import threading
import time

from conftest import wait_until
from test_rescale import (RESCALE_TIMEOUT, assert_exact_counts, assert_state_where_outputs_say, assert_status, ctl,
                          last_line, lines_with, rounds, shrink_out, wait_counted_after_now, wait_flowing,
                          wait_for_owners)

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kafka_apps", "rescale_count.py")
SOURCE = "Counts"
PARTITIONS = 6
KEYS = ["k%d" % i for i in range(24)]   # k<i> in partition i % 6: four keys a partition


class SteadyProducer(object):
    """Produces `<key>` -> `<seq>` messages to `topic` at a steady rate (about `rate` a second) from start() until
    stop(): the keys in turn, key i always to partition i % PARTITIONS, each key's sequence numbers 0, 1, 2, ... in
    order (an idempotent producer: no message twice, none reordered). test_rescale.SteadySender's interface (keys,
    sent, total()), so its helpers wait on it."""

    def __init__(self, kafka, topic, keys=KEYS, rate=500):
        self.kafka = kafka
        self.topic = topic
        self.keys = keys
        self.rate = rate
        self.sent = [0] * len(keys)
        self.error = None
        self.failed = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def total(self):
        return sum(self.sent)

    def _delivered(self, error, message):
        if error is not None:
            self.failed.append("%s [%s]: %s" % (message.topic(), message.partition(), error))

    def _run(self):
        tick = 0.01
        per_tick = max(1, int(self.rate * tick))
        at = 0
        producer = self.kafka.producer(**{"acks": "all", "enable.idempotence": True, "linger.ms": 5})
        try:
            next_tick = time.monotonic()
            while not self._stop.is_set():
                for _ in range(per_tick):
                    k = at % len(self.keys)
                    while True:
                        try:
                            producer.produce(self.topic, key=self.keys[k].encode(), value=str(self.sent[k]).encode(),
                                             partition=k % PARTITIONS, on_delivery=self._delivered)
                            break
                        except BufferError:
                            producer.poll(0.05)
                    self.sent[k] += 1
                    at += 1
                producer.poll(0)
                next_tick = max(next_tick + tick, time.monotonic() - tick)
                time.sleep(max(0.0, next_tick - time.monotonic()))
            remaining = producer.flush(30)
            if remaining:
                self.error = "%d messages not acknowledged within 30 s" % remaining
        except Exception as error:  # noqa: BLE001  (reported by stop())
            self.error = repr(error)

    def stop(self):
        """Stops producing once every message is acknowledged; returns {key: messages produced}."""
        self._stop.set()
        self._thread.join(timeout=40)
        assert not self._thread.is_alive(), "the producer did not stop"
        assert self.error is None and not self.failed, "the producer failed: %s %s" % (self.error, self.failed[:5])
        return dict(zip(self.keys, self.sent))


def source_args(kafka, topic, group):
    return ["--kafka_source_topic", topic, "--kafka_source_brokers", kafka.bootstrap, "--group", group]


def end_offsets(kafka, topic, sent):
    """{partition: end offset} from the broker, checked against what the producer wrote to each."""
    consumer = kafka.consumer(**{"group.id": "roo-test-watermarks-" + topic})
    try:
        ends = dict((p, consumer.get_watermark_offsets(kafka.ck.TopicPartition(topic, p), timeout=10)[1])
                    for p in range(PARTITIONS))
    finally:
        consumer.close()
    produced = dict((p, sum(n for i, n in enumerate(sent[k] for k in KEYS) if i % PARTITIONS == p))
                    for p in range(PARTITIONS))
    assert ends == produced, "the topic's end offsets %s are not what was produced %s" % (ends, produced)
    return ends


def assert_committed_at_the_end(kafka, group, topic, sent, logs):
    ends = end_offsets(kafka, topic, sent)
    committed = kafka.committed(group, topic)
    assert committed == ends, "the group's committed offsets %s are not the partitions' ends %s\n%s" % (
        committed, ends, logs())


def assert_in_order_per_worker(out, logs):
    """Each sink connection (one worker's output) carries each key's counts in increasing order."""
    wrong = []
    for at, data in enumerate(out.per_connection()):
        last = {}
        for line in data.decode("utf-8").split("\n")[:-1]:
            if line.startswith("GAP"):
                continue
            key, n, worker = line.split(",")
            if int(n) <= last.get(key, 0):
                wrong.append((at, worker, key, last[key], int(n)))
            last[key] = int(n)
    assert not wrong, "counts out of order on one connection (connection, worker, key, before, then): %s\n%s" % (
        wrong[:10], logs())


# ------------------------------------------------------------------ who reads which partition, as the logs say

def share(live, name):
    """The partitions `name` reads when `live` (membership order) are the live workers: p with p mod L its rank."""
    return [p for p in range(PARTITIONS) if name in live and p % len(live) == live.index(name)]


def partition_list(topic, partitions):
    return ", ".join("%s/%d" % (topic, p) for p in partitions)


def reading_line(topic, live, name):
    mine = share(live, name)
    return "kafka_source '%s': reading %d partitions as worker %d of %d: %s" % (
        SOURCE, len(mine), live.index(name), len(live), partition_list(topic, mine))


def hands_on_line(round_, topic, partitions):
    return "rescale %d: kafka source '%s' hands on %d partitions: %s" % (
        round_, SOURCE, len(partitions), partition_list(topic, partitions))


READING = re.compile(r"(kafka_source '%s': reading ([0-9]+) partitions as worker .*)$" % SOURCE)
HANDS_ON = re.compile(r"(rescale [0-9]+: kafka source '%s' hands on .*)$" % SOURCE)


def readings(member):
    """The member's `reading <n> partitions` lines (n > 0: it reads some), log prefixes cut off."""
    found = [READING.search(line) for line in member.stderr().splitlines()]
    return [m.group(1) for m in found if m and int(m.group(2)) > 0]


def hand_ons(member):
    found = [HANDS_ON.search(line) for line in member.stderr().splitlines()]
    return [m.group(1) for m in found if m]


class Layouts(object):
    """What each worker's log should say: every layout it read (a line each time its source starts) and every
    partition it handed on (a line per round), from the successive lists of live workers."""

    def __init__(self, topic, live):
        self.topic = topic
        self.live = list(live)
        self.reading = dict((name, [reading_line(topic, live, name)]) for name in live)
        self.handing = dict((name, []) for name in live)
        self.round = 0

    def rescale(self, live):
        """A round from the current live workers to `live`."""
        self.round += 1
        before = self.live
        for name in before:
            handed = [p for p in share(before, name) if p not in share(live, name)]
            if handed:
                self.handing[name].append(hands_on_line(self.round, self.topic, handed))
        for name in live:
            if share(live, name):
                self.reading.setdefault(name, []).append(reading_line(self.topic, live, name))
            self.handing.setdefault(name, [])
        self.live = list(live)

    def lost_joiner(self, name):
        """A round in which the joiner `name` died during the move: each worker had handed on what the joiner was to
        read, and reads its partitions of the layout before the round again."""
        self.round += 1
        grown = self.live + [name]
        for worker in self.live:
            handed = [p for p in share(self.live, worker) if p not in share(grown, worker)]
            if handed:
                self.handing[worker].append(hands_on_line(self.round, self.topic, handed))
            self.reading[worker].append(reading_line(self.topic, self.live, worker))

    def wait_read(self, c):
        """Until every live worker logged the layout it reads now (its source started again at the resume)."""
        for m in c.members:
            if m.name in self.live:
                want = self.reading.get(m.name, [])
                wait_until(lambda: len(readings(m)) >= len(want) or m.proc.poll() is not None, RESCALE_TIMEOUT)
                assert len(readings(m)) >= len(want) and m.proc.poll() is None, \
                    "round %d: %s (exit %s) does not read %s\n%s" % (self.round, m.name, m.proc.poll(), want[-1:],
                                                                     c.logs())

    def assert_logged(self, c):
        for m in c.members:
            if m.name in self.reading or m.name in self.handing:
                assert readings(m) == self.reading.get(m.name, []), \
                    "%s read other partitions than the rule deals:\n  logged %s\n  expected %s\n%s" % (
                        m.name, readings(m), self.reading.get(m.name, []), c.logs())
                assert hand_ons(m) == self.handing.get(m.name, []), \
                    "%s handed on other partitions than the rule says:\n  logged %s\n  expected %s\n%s" % (
                        m.name, hand_ons(m), self.handing.get(m.name, []), c.logs())


def start(kafka, cluster, receiver, hint, app_args=(), **kwargs):
    topic = kafka.unique_topic(hint)
    kafka.create_topic(topic, partitions=PARTITIONS)
    group = "g-" + topic
    out = receiver()
    c = cluster(APP, kwargs.pop("size", 1), out.address, app_args=source_args(kafka, topic, group) + list(app_args),
                **kwargs)
    return topic, group, out, c


def assert_every_key_exact_then_stop(kafka, group, topic, out, c, names, sent, layouts):
    """The oracle of a run: every key's counts exact and in order, its state where its outputs say; then a clean
    stop, the group's offsets at every partition's end, and each worker's partition layout as logged."""
    print("produced %d messages" % sum(sent.values()))
    counted = assert_exact_counts(out, sent, c.logs)
    assert_in_order_per_worker(out, c.logs)
    assert_state_where_outputs_say(c, names, counted)
    c.stop(via=0)
    assert_committed_at_the_end(kafka, group, topic, sent, c.logs)
    layouts.assert_logged(c)


def test_grow_and_shrink_under_a_producer_keeps_every_keys_sequence_exactly_once_and_in_order(
        kafka, cluster, receiver, roo_bin):
    """1 -> 2 -> 3 workers (joins) -> 2 (worker1 shrunk out) while a producer writes; then the producer stops, every
    message is counted exactly once in order, the cluster stops cleanly and the group's offsets are at the ends."""
    topic, group, out, c = start(kafka, cluster, receiver, "grow")
    layouts = Layouts(topic, ["initializer"])
    producer = SteadyProducer(kafka, topic).start()
    try:
        wait_flowing(out, producer)
        layouts.wait_read(c)
        names = ["initializer"]
        for name in ("worker1", "worker2"):
            c.join(name)
            names.append(name)
            wait_for_owners(c, names)
            c.wait_ready([c[-1]])
            layouts.rescale(names)
            layouts.wait_read(c)
            wait_counted_after_now(out, producer, c, more=300)
        names = ["initializer", "worker2"]
        shrink_out(roo_bin, c, 0, ["--workers", "worker1"], 1, names)
        layouts.rescale(names)
        layouts.wait_read(c)
        wait_counted_after_now(out, producer, c, more=300)
    finally:
        sent = producer.stop()
    assert_status(roo_bin, c, names)
    assert_every_key_exact_then_stop(kafka, group, topic, out, c, names, sent, layouts)


def test_a_joiner_killed_mid_migration_gives_its_partitions_back(kafka, cluster, receiver, roo_bin):
    """Each round: a joiner starts, and once it is restoring the state moved to it (the app's restore sleeps 150 ms a
    key, so its part takes over a second), kill -9. The initializer had handed the joiner's partitions on (committed
    its positions) at the move: it reads them again from the group's committed offsets, and every count stays exact.
    A last joiner, not killed, shows the cluster still grows and deals the partitions."""
    topic, group, out, c = start(kafka, cluster, receiver, "kill", app_args=["--slow-restore-ms", "150"])
    layouts = Layouts(topic, ["initializer"])
    producer = SteadyProducer(kafka, topic).start()
    try:
        wait_flowing(out, producer)
        for round_ in range(rounds(1)):
            name = "joiner%d" % round_
            joiner = c.join(name)
            assert wait_until(lambda: "key_count: restoring state" in joiner.stderr() or
                              joiner.proc.poll() is not None, RESCALE_TIMEOUT), \
                "round %d: the joiner never restored state\n%s" % (round_, c.logs())
            assert joiner.proc.poll() is None, "round %d: the joiner exited\n%s" % (round_, c.logs())
            joiner.worker.send_signal(signal.SIGKILL)
            joiner.worker.wait()
            assert c.initializer.wait_for_log("cluster: rescale %d: worker '%s' was lost during the move; its 128 "
                                              "key groups go back" % (round_ + 1, name), RESCALE_TIMEOUT), c.logs()
            # The move had begun: the initializer handed the joiner's partitions on, and reads them all again.
            layouts.lost_joiner(name)
            layouts.wait_read(c)
            assert_status(roo_bin, c, ["initializer"])
            wait_for_owners(c, ["initializer"])
            wait_counted_after_now(out, producer, c, more=300)
        c.join("last")
        names = ["initializer", "last"]
        wait_for_owners(c, names)
        layouts.rescale(names)
        layouts.wait_read(c)
        wait_counted_after_now(out, producer, c, more=300)
    finally:
        sent = producer.stop()
    assert_every_key_exact_then_stop(kafka, group, topic, out, c, names, sent, layouts)
    for joiner in c.members[1:-1]:
        assert readings(joiner) == [], "the killed %s read partitions\n%s" % (joiner.name, c.logs())


def test_with_checkpoints_a_kafka_source_is_still_refused(kafka, cluster, receiver, roo_bin, tmp_path):
    """Checkpoints on: a joiner is refused naming the Kafka source, in one line on each side, and so is a shrink;
    the cluster goes on as it was (a TCP sink, so that the source is what refuses, not a transactional sink)."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    topic, _group, out, c = start(kafka, cluster, receiver, "ck", size=2,
                                  run_flags=["--checkpoint-dir", str(folder), "--checkpoint-interval", "200ms"])
    names = ["initializer", "worker1"]
    kafka.produce(topic, [(key, str(n), None, i % PARTITIONS) for n in range(5) for i, key in enumerate(KEYS)])
    assert out.wait_for(lambda r: len(r.lines()) >= 5 * len(KEYS), timeout=30), c.logs()

    reason = ("rescaling with checkpoints is not supported with Kafka source '%s' (a checkpoint's offsets stay with "
              "the worker that took it)" % SOURCE)
    joiner = c.join("worker2")
    assert joiner.worker.wait(RESCALE_TIMEOUT) == 1, joiner.stderr()
    assert last_line(joiner.stderr()) == "roo run: unable to join the cluster at %s: the cluster cannot grow while " \
        "it runs: %s" % (c[0].control, reason), joiner.stderr()
    assert len(lines_with(joiner.stderr(), reason)) == 1, joiner.stderr()
    assert c[0].wait_for_log("cluster: refused worker 'worker2' from "), c.logs()
    refused = lines_with(c[0].stderr(), "refused worker 'worker2'")
    assert len(refused) == 1, c[0].stderr()
    assert re.search(r"cluster: refused worker 'worker2' from [0-9.:]+: the cluster cannot grow while it runs: %s$"
                     % re.escape(reason), refused[0]), refused[0]
    assert len(lines_with(c[0].stderr(), reason)) == 1, c[0].stderr()

    done = ctl(roo_bin, "shrink", "-e", c[0].external, "--workers", "worker1")
    assert (done.returncode, done.stdout) == (1, ""), (done.returncode, done.stdout, done.stderr)
    assert done.stderr == "roo ctl: unable to shrink the cluster at %s: the cluster cannot shrink while it runs: " \
        "%s\n" % (c[0].external, reason), done.stderr

    time.sleep(0.5)
    assert all(m.proc.poll() is None for m in c.members[:2]), c.logs()
    assert_status(roo_bin, c, names)
    kafka.produce(topic, [(key, str(n), None, i % PARTITIONS) for n in range(5, 8) for i, key in enumerate(KEYS)])
    sent = dict((key, 8) for key in KEYS)
    assert_exact_counts(out, sent, c.logs)
    c.stop(via=0)
