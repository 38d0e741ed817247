"""Growing and shrinking a running cluster that reads Kafka (issue 16; docs/kafka.md, "Partitions and workers";
docs/cluster.md, "Growing and shrinking a running cluster"; docs/resilience.md, "Growing and shrinking").

Partition p of the source's topic is read by the live worker p mod L (live: the workers that have not left, in
membership order; L: their count). At a rescale's move every worker stops its Kafka source and commits, for each
partition it no longer reads, its position to the consumer group (a leaver hands on all of its partitions); at the
resume each worker reads again, the partitions it kept from its own positions and those it took from the group's
committed offsets. With checkpoints on, the same, and the checkpoint after the round holds the new layout's
positions; a crash rolls back to a checkpoint of one layout or the other, and every message is counted once in state.

Real workers, real sockets, the session's real broker (the `kafka` fixture). The app is kafka_apps/rescale_count.py:
cluster_apps/key_count.py's count per key with an inline order check, fed by a Kafka source. A `SteadyProducer`
writes keyed messages (key k<i> always to partition i % PARTITIONS, each key's sequence numbers 0, 1, 2, ... in
order) while workers join or leave; every worker's sink writes to one TCP receiver.

The oracle is test_rescale.py's (`assert_exact_counts`): no GAP line, and each key's lines carry the counts 1..n
exactly once, n being the number of messages produced for it: nothing lost, nothing counted twice, no message of a
key overtook an earlier one across a migration. Besides: each worker's output has each key's counts in increasing
order, after a clean stop the group's committed offsets are at every partition's end, and each worker's log names
the partitions it read and handed on in every round, as the rule above deals them. After a crash with checkpoints,
`assert_counted_once_in_state`: outputs may repeat, but no GAP line and no count above n.

Env: ROO_RESCALE_ROUNDS (rounds of the kill-a-joiner-mid-migration loop; CI default 1, more on demand).
"""
import os
import re
import signal
import threading
import time

import pytest

from conftest import EXTERNAL_STATE_ENTITY_QUERY, external_query, free_port, wait_until
from test_kafka_faults import CommittedReader
from test_rescale import (RESCALE_TIMEOUT, STATE, assert_exact_counts, assert_state_where_outputs_say, assert_status,
                          ctl, lines_with, moves_logged, rounds, shrink_out, wait_counted_after_now, wait_flowing,
                          wait_for_owners, wait_mid_migration)

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


@pytest.mark.parametrize("checkpoints", [False, True], ids=["checkpoints-off", "checkpoints-on"])
def test_grow_and_shrink_under_a_producer_keeps_every_keys_sequence_exactly_once_and_in_order(
        kafka, cluster, receiver, roo_bin, tmp_path, checkpoints):
    """1 -> 2 -> 3 workers (joins) -> 2 (worker1 shrunk out) while a producer writes; then the producer stops, every
    message is counted exactly once in order, the cluster stops cleanly and the group's offsets are at the ends.
    With checkpoints, a checkpoint of each new layout completes before the load goes on."""
    from test_rescale_resilience import complete_checkpoints, wait_for_checkpoint_after, with_checkpoints
    topic, group, out, c = start(kafka, cluster, receiver, "grow",
                                 run_flags=with_checkpoints(tmp_path) if checkpoints else ())
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
            if checkpoints:
                wait_for_checkpoint_after(c[0], len(names), complete_checkpoints(c[0], len(names)))
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
    """Each round: a joiner starts, and once the move began (the app's save sleeps 150 ms a key, so the initializer's
    hand-over takes over a second), kill -9. The initializer had handed the joiner's partitions on (committed
    its positions) at the move: it reads them again from the group's committed offsets, and every count stays exact.
    A last joiner, not killed, shows the cluster still grows and deals the partitions."""
    topic, group, out, c = start(kafka, cluster, receiver, "kill", app_args=["--slow-save-ms", "150"])
    layouts = Layouts(topic, ["initializer"])
    producer = SteadyProducer(kafka, topic).start()
    try:
        wait_flowing(out, producer)
        for round_ in range(rounds(1)):
            name = "joiner%d" % round_
            moves = moves_logged(c[0])
            joiner = c.join(name)
            wait_mid_migration(c, moves, joiner)
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


# ------------------------------------------------------------------ with checkpoints
#
# The checkpoint after a round is taken at once and holds the new layout: each worker's part has the positions of
# the partitions it reads now (a partition it took and has not read from yet at the offset it started at). A crash
# before it completes rolls back to the checkpoint before the round, whose parts hold the partitions as they were
# dealt then. Either way every message is counted once in state: outputs may repeat (a TCP sink), state never does.

def assert_counted_once_in_state(out, sent, logs):
    """The oracle after a rollback: no GAP line (the inline order check saw each key's messages in order with none
    missing or repeated in state) and each key's outputs carry exactly the counts 1..n, some maybe more than once
    (output after the checkpoint is written again), none above n (a message counted twice in state would make n+1)."""
    total = sum(sent.values())
    out.wait_for(lambda r: len(set(r.lines())) >= total, timeout=60)
    out.wait_quiet(0.3)
    lines = out.lines()
    gaps = [line for line in lines if line.startswith("GAP")]
    assert not gaps, "%d GAP lines, first: %s\n%s" % (len(gaps), gaps[:5], logs())
    counts = {}
    for line in lines:
        key, n, _worker = line.split(",")
        counts.setdefault(key, set()).add(int(n))
    wrong = sorted((k, n, sorted(counts.get(k, ()))[-3:]) for k, n in sent.items()
                   if counts.get(k, set()) != set(range(1, n + 1)))
    assert not wrong, "keys whose counts are not 1..n (key, n, highest counts): %s\n%s" % (wrong[:10], logs())
    repeated = len(lines) - total
    print("%d outputs, %d of them repeated after the rollback" % (len(lines), repeated))


def assert_counted_once_then_stop(kafka, group, topic, out, c, sent):
    """The oracle of a run with a rollback, then a clean stop with the group's offsets at every partition's end."""
    assert_counted_once_in_state(out, sent, c.logs)
    c.stop(via=0)
    assert_committed_at_the_end(kafka, group, topic, sent, c.logs)


def test_with_checkpoints_a_crash_after_a_grow_rolls_back_and_counts_every_message_once_in_state(
        kafka, cluster, receiver, tmp_path):
    """1 -> 2 workers under a producer; once a checkpoint on both is complete, kill -9 of the joiner and the same
    command again: the cluster rolls back to a checkpoint of the grown layout, each worker reads its partitions from
    that checkpoint's offsets, and every message is counted once in state."""
    from test_rescale_resilience import complete_checkpoints, kill, wait_for_checkpoint_after, with_checkpoints
    topic, group, out, c = start(kafka, cluster, receiver, "ckcrash", run_flags=with_checkpoints(tmp_path))
    producer = SteadyProducer(kafka, topic).start()
    try:
        wait_flowing(out, producer)
        c.join("worker1")
        wait_for_owners(c, ["initializer", "worker1"])
        wait_for_checkpoint_after(c[0], 2, complete_checkpoints(c[0], 2))
        kill(c[1])
        c.start_member(1)  # the same command
        assert c[0].wait_for_log("the cluster formed again after rollback 1", RESCALE_TIMEOUT), c.logs()
        wait_for_owners(c, ["initializer", "worker1"])
        wait_counted_after_now(out, producer, c, more=300)
    finally:
        sent = producer.stop()
    assert_counted_once_then_stop(kafka, group, topic, out, c, sent)


def test_with_checkpoints_a_joiner_killed_mid_migration_rolls_back_to_the_layout_before(
        kafka, cluster, receiver, tmp_path):
    """Each round: a joiner killed while it restores the state moved to it (the app's restore sleeps 150 ms a key; a
    new owner restores after the round, and the checkpoint after the round waits for it). The initializer had handed
    the joiner's partitions on at the move; the cluster rolls back to the checkpoint before the round, in which the
    initializer reads every partition, from that checkpoint's offsets. A last joiner, not killed, shows the cluster
    still grows; every message is counted once in state. ROO_RESCALE_ROUNDS rounds (CI: 1)."""
    from test_rescale_resilience import kill, with_checkpoints
    topic, group, out, c = start(kafka, cluster, receiver, "ckkill", run_flags=with_checkpoints(tmp_path),
                                 app_args=["--slow-restore-ms", "150"])
    producer = SteadyProducer(kafka, topic).start()
    try:
        wait_flowing(out, producer)
        for round_ in range(1, rounds(1) + 1):
            joiner = c.join("joiner%d" % round_)
            assert wait_until(lambda: "key_count: restoring state" in joiner.stderr() or
                              joiner.proc.poll() is not None, RESCALE_TIMEOUT), \
                "round %d: the joiner never restored state\n%s" % (round_, c.logs())
            # The move began: the partitions were handed on (logged once the synchronous commit is done).
            assert wait_until(lambda: len(hand_ons(c[0])) == round_, RESCALE_TIMEOUT), c.logs()
            kill(joiner)
            assert c[0].wait_for_log("the cluster formed again after rollback %d" % round_, RESCALE_TIMEOUT), c.logs()
            wait_for_owners(c, ["initializer"])
            wait_counted_after_now(out, producer, c, more=300)
        c.join("last")
        wait_for_owners(c, ["initializer", "last"])
        wait_counted_after_now(out, producer, c, more=300)
    finally:
        sent = producer.stop()
    assert_counted_once_then_stop(kafka, group, topic, out, c, sent)


def test_windows_keep_firing_after_a_partition_with_a_backlog_is_handed_on(kafka, cluster, receiver, roo_bin):
    """Event-time windows over a Kafka source (window_apps/windowed.py: tumbling 2 s of event time, idleness 2 s
    (more than any pause of the producer on a loaded machine), 8 ms an event in the aggregation). A producer writes
    300 events a second over partitions 0 and 1 (each event 10 ms of event time after the previous one of its
    partition, partition 1's 5 s behind partition 0's) for 6 s; a worker processes 125 a second, so every partition
    has a backlog. A second worker joins (the first hands partition 1 on to it), then leaves again (it hands
    partition 1 back to the first, whose own watermark, from partition 0 alone, had gone past that backlog's times). Before the fix the first case stopped every window for ever (the old reader
    waited on the partition it handed on) and the second made the backlog late. The oracle: every window of every key
    output exactly once (test_windows.tumbling_expected), no late event on any worker."""
    from test_windows import STOPPED, WINDOWED, kafka_flags, now_ms, tumbling_expected, wait_lines
    topic = kafka.unique_topic("winrescale")
    kafka.create_topic(topic, partitions=2)
    base = (now_ms() // 100000) * 100000 - 3600000
    events, chunks = [], []
    for tick in range(60):  # a chunk every 100 ms
        chunk = []
        for i in range(tick * 30, tick * 30 + 30):
            partition = i % 2
            # Partition 1's events are 5 s of event time behind partition 0's.
            key, t, v = "k%d" % (i // 2 % 4), base + (i // 2) * 10 + partition - 5000 * partition, i
            events.append((key, t, v))
            chunk.append({"key": "p%d" % partition, "value": "%s,%d,%d" % (key, t, v), "partition": partition,
                          "timestamp": t})
        chunks.append(chunk)

    def produce():
        for chunk in chunks:
            kafka.produce(topic, chunk)
            time.sleep(0.1)

    out = receiver()
    c = cluster(WINDOWED, 1, out.address, sources=[],
                app_args=["--range", "2000", "--idleness", "2000", "--slow-ms", "8", *kafka_flags(kafka, topic)])
    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    time.sleep(1.5)
    c.join("worker1")
    assert c[0].wait_for_log("cluster: rescale 1 done", RESCALE_TIMEOUT), c.logs()
    assert len(lines_with(c[0].stderr(), "rescale 1: kafka source 'Events' hands on 1 partitions: %s/1" % topic)) == 1, \
        c.logs()
    assert c[1].wait_for_log("kafka_source 'Events': reading 1 partitions as worker 1 of 2: %s/1" % topic,
                             RESCALE_TIMEOUT), c.logs()
    time.sleep(1)
    done = ctl(roo_bin, "shrink", "-e", c[0].external, "--workers", "worker1")
    assert done.returncode == 0, (done.stdout, done.stderr, c.logs())
    assert c[1].worker.wait(RESCALE_TIMEOUT) == 0, c.logs()
    assert len(lines_with(c[1].stderr(), "rescale 2: kafka source 'Events' hands on 1 partitions: %s/1" % topic)) == 1, \
        c.logs()
    producer.join(30)
    assert not producer.is_alive()
    wait_lines(out, tumbling_expected(events, 2000), c, timeout=60)
    c.stop(via=0)
    for m in c.members:
        late = STOPPED.findall(m.stderr())
        assert late and int(late[-1]) == 0, "late events on %s:\n%s" % (m.name, c.logs())


# ------------------------------------------------------------------ the move waits for the sinks' delivery
#
# The partitions' new readers start after the positions handed on, so the output of every message before them must
# be delivered first, not merely processed: a crash after the resume would otherwise lose output nobody reads again.
# The sink's receiver is down when a worker joins: the initializer processed messages whose output its sink holds.

def produce_counts(kafka, topic, first, end):
    """Each key's sequence numbers first .. end - 1, key i to partition i % PARTITIONS."""
    kafka.produce(topic, [(key, str(n), None, i % PARTITIONS) for n in range(first, end) for i, key in enumerate(KEYS)])


def start_without_receiver(kafka, cluster, hint, run_flags):
    port = free_port()
    topic = kafka.unique_topic(hint)
    kafka.create_topic(topic, partitions=PARTITIONS)
    group = "g-" + topic
    c = cluster(APP, 1, "127.0.0.1:%d" % port, app_args=source_args(kafka, topic, group), run_flags=run_flags)
    produce_counts(kafka, topic, 0, 5)
    # Every key counted (its state is there): the output waits in the sink, which cannot connect.
    assert wait_until(lambda: len(external_query(c[0].external, EXTERNAL_STATE_ENTITY_QUERY)[STATE]) == len(KEYS),
                      30), c.logs()
    return port, topic, group, c


GIVE_UP = ("rescale 1: the sinks did not deliver every output within 2000 ms before the Kafka partitions are handed "
           "on; the rescale goes on, and output not yet delivered is lost if this worker crashes before it is")


def test_the_move_waits_until_the_sinks_delivered_what_was_processed(kafka, cluster, receiver):
    """The round does not move (no partition handed on) while the sink holds output; once its receiver is up, the
    output is delivered, the round completes, and every count is exact."""
    port, topic, group, c = start_without_receiver(kafka, cluster, "deliver", ["--drain-timeout", "30"])
    c.join("worker1")
    assert c[0].wait_for_log("rescale 1: source input paused", RESCALE_TIMEOUT), c.logs()
    time.sleep(2)
    assert "hands on" not in c[0].stderr() and "rescale 1 done" not in c[0].stderr(), c.logs()
    out = receiver(port)
    assert c[0].wait_for_log("cluster: rescale 1 done", RESCALE_TIMEOUT), c.logs()
    assert len(hand_ons(c[0])) == 1, c.logs()
    produce_counts(kafka, topic, 5, 8)
    sent = dict((key, 8) for key in KEYS)
    assert_exact_counts(out, sent, c.logs)
    c.stop(via=0)
    assert kafka.committed(group, topic) == end_offsets(kafka, topic, sent), c.logs()
    assert "did not deliver" not in c[0].stderr(), c.logs()


def test_a_sink_that_does_not_deliver_within_the_drain_timeout_is_named_and_the_rescale_goes_on(
        kafka, cluster, receiver):
    """--drain-timeout 2: the round waits 2 s for the sink, says so in one line, and moves; the output the sink kept
    is delivered once its receiver is up, and every count is exact."""
    port, topic, _group, c = start_without_receiver(kafka, cluster, "giveup", ["--drain-timeout", "2"])
    c.join("worker1")
    assert c[0].wait_for_log("cluster: rescale 1 done", RESCALE_TIMEOUT), c.logs()
    assert len(lines_with(c[0].stderr(), GIVE_UP)) == 1, c.logs()
    out = receiver(port)
    produce_counts(kafka, topic, 5, 8)
    assert_exact_counts(out, dict((key, 8) for key in KEYS), c.logs)
    c.stop(via=0)


# ------------------------------------------------------------------ with checkpoints and a Kafka sink
#
# With checkpoints a Kafka sink writes inside a transaction per checkpoint (docs/kafka.md, "Exactly once"). A worker
# that leaves takes part in no checkpoint after its round, so at the move it aborts its open transaction and hands
# the output it had not committed to the initializer, which writes it into its own transaction and delivers it
# before the round resumes; it commits with the initializer's next checkpoint. Every worker delivers what its sink
# holds before the resume too, so that a key's outputs keep their order across its move. The oracle reads the output
# topic read_committed: each key's lines carry the counts 1..n exactly once, in that order, and no GAP line.

class CommittedOutput(CommittedReader):
    """test_kafka_faults' read_committed reader of the output topic, keeping lines "<key>,<count>,<worker>": its
    lines in each partition's offset order (so a key's in its output order), with the receiver's interface for
    test_rescale's helpers (lines, wait_for, wait_quiet)."""

    def _note(self, message):
        with self._lock:
            self.records.append((message.partition(), message.offset(), message.key(), message.value()))

    def lines(self):
        with self._lock:
            return [value.decode() for _, _, _, value in sorted(self.records)]

    def wait_for(self, predicate, timeout):
        return wait_until(lambda: predicate(self), timeout, interval=0.1)

    def wait_quiet(self, seconds):
        seen = -1
        while seen != self.count():
            seen = self.count()
            time.sleep(seconds)

    def stop(self):
        super(CommittedOutput, self).stop()
        assert self.error is None, "the read_committed reader failed: %s" % self.error


def assert_in_order_per_key(out, logs):
    """Each key's counts, in the output topic's offset order (a key's partition), rise by one from 1."""
    lines = out.lines()
    gaps = [line for line in lines if line.startswith("GAP")]
    assert not gaps, "%d GAP lines, first: %s\n%s" % (len(gaps), gaps[:5], logs())
    counts = {}
    for line in lines:
        key, n, _worker = line.split(",")
        counts.setdefault(key, []).append(int(n))
    wrong = sorted((key, ns[:3]) for key, ns in counts.items() if ns != list(range(1, len(ns) + 1)))
    assert not wrong, "keys whose outputs are out of order in their partition (key, first counts): %s\n%s" % (
        wrong[:5], logs())


def assert_every_output_once_in_order(out, sent, logs):
    """The oracle of a Kafka-sink run: every key's counts 1..n exactly once and in order for a read_committed
    reader; then the reader stops."""
    try:
        assert_exact_counts(out, sent, logs)
        assert_in_order_per_key(out, logs)
    finally:
        out.stop()


def start_with_kafka_sink(kafka, cluster, receiver, hint, tmp_path, size=1, app_args=(), **kwargs):
    from test_rescale_resilience import with_checkpoints
    out_topic = kafka.unique_topic(hint + "-out")
    kafka.create_topic(out_topic, partitions=PARTITIONS)
    topic, group, _unused, c = start(
        kafka, cluster, receiver, hint, size=size, run_flags=with_checkpoints(tmp_path),
        app_args=["--kafka-out", "--kafka_sink_topic", out_topic, "--kafka_sink_brokers", kafka.bootstrap] +
        list(app_args), **kwargs)
    return topic, group, CommittedOutput(kafka, out_topic), c


HANDED = re.compile(r"leaving: (\d+) batches of output not committed \(([^)]*)\) go to the initializer's transaction")


def wait_mid_checkpoint_interval(member, workers):
    """Until 60 ms after `member` (the initializer) logged a new checkpoint complete on `workers` workers, itself some
    ms after that checkpoint's cut: a shrink asked for then (`roo ctl` takes tens of ms to start) pauses the cluster
    about midway between that cut and the next (200 ms apart), when every worker holds output the checkpoints have
    not committed (at 500 messages a second, dozens of outputs, each worker its share); one asked for just after a
    commit may find none on the leaver."""
    from test_rescale_resilience import complete_checkpoints
    seen = len(complete_checkpoints(member, workers))
    assert wait_until(lambda: len(complete_checkpoints(member, workers)) > seen, 20, interval=0.02), \
        "no checkpoint on %d workers\n%s" % (workers, member.stderr())
    time.sleep(0.06)


def grow_to_three_and_shrink_to_one_handing_output_over(roo_bin, c, out, producer, on_leaver=None):
    """Under `producer`: 1 -> 2 -> 3 workers, then worker1 and worker2 shrunk out, one at a time; each leaver must log
    that it handed more than 0 batches of uncommitted output to the initializer (then `on_leaver(member, batches)`).
    Returns what the producer sent."""
    producer.start()
    try:
        wait_flowing(out, producer)
        names = ["initializer"]
        for name in ("worker1", "worker2"):
            c.join(name)
            names.append(name)
            wait_for_owners(c, names)
            c.wait_ready([c[-1]])
            wait_counted_after_now(out, producer, c, more=300)
        for leaver in (1, 2):
            names.remove(c[leaver].name)
            wait_mid_checkpoint_interval(c[0], len(names) + 1)
            shrink_out(roo_bin, c, 0, ["--workers", c[leaver].name], leaver, names)
            handed = HANDED.findall(c[leaver].stderr())
            assert len(handed) == 1 and int(handed[0][0]) > 0, \
                "%s did not hand uncommitted output over\n%s" % (c[leaver].name, c.logs())
            if on_leaver is not None:
                on_leaver(c[leaver], handed[0][0])
            wait_counted_after_now(out, producer, c, more=300)
    finally:
        sent = producer.stop()
    return sent


def shrink_with_the_initializer_killed_after_the_hand_off(roo_bin, c, out, producer):
    """2 workers (the initializer's restore slowed) under `producer`: ROO_RESCALE_ROUNDS rounds (CI: 1) of worker1
    shrunk out, kill -9 of the initializer once worker1 handed its output over (before the checkpoint after the
    round), worker1 stopping (the cluster rolls back) and both started again; then the shrink that goes through.
    Returns what the producer sent."""
    from test_rescale_resilience import kill
    names = ["initializer", "worker1"]
    producer.start()
    try:
        wait_flowing(out, producer)
        wait_for_owners(c, names)
        wait_counted_after_now(out, producer, c, more=300)
        for round_ in range(1, rounds(1) + 1):
            wait_mid_checkpoint_interval(c[0], 2)  # worker1 then holds output to hand over (the wait below needs it)
            done = ctl(roo_bin, "shrink", "-e", c[0].external, "--workers", "worker1")
            assert done.returncode == 0, done.stderr
            # The leaver handed its output over at its move; the initializer then restores its 12 keys, 100 ms
            # each, before the checkpoint after the round: the kill lands before that checkpoint.
            assert wait_until(lambda: len(HANDED.findall(c[1].stderr())) == 1, RESCALE_TIMEOUT, interval=0.02), \
                "round %d\n%s" % (round_, c.logs())
            kill(c[0])
            assert c[1].worker.wait(RESCALE_TIMEOUT) == 1, c.logs()
            assert "start this worker again with the same command to take its place" in c[1].stderr(), c.logs()
            c.start_member(0)
            c.start_member(1)
            c.wait_ready()
            wait_for_owners(c, names)
            wait_counted_after_now(out, producer, c, more=300)
        shrink_out(roo_bin, c, 0, ["--workers", "worker1"], 1, ["initializer"])
        wait_counted_after_now(out, producer, c, more=300)
    finally:
        sent = producer.stop()
    return sent


def test_with_checkpoints_a_kafka_sink_grows_and_shrinks_with_every_output_once_for_read_committed_readers(
        kafka, cluster, receiver, roo_bin, tmp_path):
    """1 -> 2 -> 3 workers, then worker1 and worker2 shrunk out, one at a time, under a producer; checkpoints every
    200 ms. Each leaver hands its uncommitted output to the initializer at its move (logged); a read_committed reader
    of the output topic sees every key's counts 1..n exactly once and in order."""
    topic, group, out, c = start_with_kafka_sink(kafka, cluster, receiver, "txgrow", tmp_path)
    sent = grow_to_three_and_shrink_to_one_handing_output_over(roo_bin, c, out, SteadyProducer(kafka, topic))
    assert_every_output_once_in_order(out, sent, c.logs)
    c.stop(via=0)
    assert_committed_at_the_end(kafka, group, topic, sent, c.logs)


def test_with_checkpoints_a_kafka_sink_rolls_back_a_crash_right_after_a_shrink_with_every_output_once(
        kafka, cluster, receiver, roo_bin, tmp_path):
    """2 workers; worker1 shrunk out, and kill -9 of the initializer once worker1 handed its output over, while the
    initializer restores the leaver's key groups (key_count's restore sleeps: the checkpoint after the round waits
    for it), so that the output worker1 handed over sits in the initializer's open transaction. The cluster rolls
    back to the checkpoint before the shrink: worker1 says it must be started again and stops; both started again,
    the cluster is as before, the shrink goes through when asked again, and the read_committed reader sees every
    output once, in order. ROO_RESCALE_ROUNDS rounds of shrink, kill and restart (CI: 1)."""
    topic, _group, out, c = start_with_kafka_sink(kafka, cluster, receiver, "txcrash", tmp_path, size=2,
                                                  app_args=["--slow-restore-ms", "100"], check_exit=False)
    sent = shrink_with_the_initializer_killed_after_the_hand_off(roo_bin, c, out, SteadyProducer(kafka, topic))
    assert_every_output_once_in_order(out, sent, c.logs)
    c.stop(via=0)


def test_with_checkpoints_a_kafka_sink_loses_nothing_when_the_leaver_dies_after_handing_its_output_over(
        kafka, cluster, receiver, roo_bin, tmp_path):
    """2 workers; worker1 shrunk out and kill -9 of it once the round is done (it handed its output over in it), before
    the checkpoint after the round (the initializer's restore sleeps). A leaver killed then is no loss (docs/resilience.md): nothing rolls
    back, its handed-over output commits with the initializer's next checkpoint, and the read_committed reader sees
    every output once, in order."""
    from test_rescale_resilience import kill
    topic, _group, out, c = start_with_kafka_sink(kafka, cluster, receiver, "txleaver", tmp_path, size=2,
                                                  app_args=["--slow-restore-ms", "100"], check_exit=False)
    producer = SteadyProducer(kafka, topic).start()
    try:
        wait_flowing(out, producer)
        wait_for_owners(c, ["initializer", "worker1"])
        wait_counted_after_now(out, producer, c, more=300)
        wait_mid_checkpoint_interval(c[0], 2)  # worker1 then holds output to hand over
        done = ctl(roo_bin, "shrink", "-e", c[0].external, "--workers", "worker1")
        assert done.returncode == 0, done.stderr
        # After the round (a kill inside it rolls back, as test_rescale_resilience shows), before the checkpoint
        # after it: the initializer restores the leaver's 12 keys first, 100 ms each.
        assert c[0].wait_for_log("cluster: rescale 1 done", RESCALE_TIMEOUT), c.logs()
        assert len(HANDED.findall(c[1].stderr())) == 1, c.logs()
        kill(c[1])
        assert c[0].wait_for_log("cluster: worker 'worker1' leaves the cluster\n", RESCALE_TIMEOUT), c.logs()
        wait_for_owners(c, ["initializer"])
        wait_counted_after_now(out, producer, c, more=300)
    finally:
        sent = producer.stop()
    assert_every_output_once_in_order(out, sent, c.logs)
    assert "rollback" not in c[0].stderr(), c.logs()
    c.stop(via=0)
