"""Kafka in and out (issue 10; docs/kafka.md): real `roo` processes against the real test broker (kafka fixture).

The app is tests/e2e/kafka_apps/keyed_count.py: messages keyed "k<i>" carry each key's sequence number; the app keys
the stream by the message key (its decoder takes it), checks every number follows its key's last one, and writes
"key,n" (or "GAP ...") with the key as the output's Kafka key. tests/e2e/kafka_apps/options_count.py does the same
check with Roo's own options (topics=, group=, start=, partitioner=), a choice of encoder shape, a decoder that
refuses values starting with "bad", and an optional slowness.

Every test makes its own topics; a test that expects a failure keeps its waits short (--kafka-broker-wait,
--drain-timeout). The fault loops (broker restarts, repeated kills with checkpoints) are in test_kafka_faults.py.
"""
import collections
import os
import signal
import time
import zlib

import pytest

from conftest import READY_LINE, free_port, wait_until

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kafka_apps")
KEYED_COUNT = os.path.join(APPS, "keyed_count.py")


def keyed_messages(keys, per_key, partitions):
    """(key, value, headers, partition) for n in 0..per_key-1 of every key; key i goes to partition i % partitions."""
    records = []
    for n in range(per_key):
        for i in range(keys):
            records.append(("k%d" % i, str(n), None, i % partitions))
    return records


def kafka_args(kafka, source_topic, sink_topic, prefix_source="kafka_source", prefix_sink="kafka_sink"):
    return ["--%s_topic" % prefix_source, source_topic, "--%s_brokers" % prefix_source, kafka.bootstrap,
            "--%s_topic" % prefix_sink, sink_topic, "--%s_brokers" % prefix_sink, kafka.bootstrap]


def lines_by_key(records):
    by_key = collections.defaultdict(list)
    for record in records:
        by_key[record.key.decode()].append(record.value.decode())
    return by_key


def expect_exact(records, keys, per_key):
    by_key = lines_by_key(records)
    assert sorted(by_key) == sorted("k%d" % i for i in range(keys))
    for key, lines in by_key.items():
        assert lines == ["%s,%d" % (key, n) for n in range(per_key)], (key, lines[:20])


@pytest.mark.parametrize("form", ["custom", "config", "default", "g1"])
def test_every_wallaroo_form_copies_keyed_messages_exactly(kafka, workers, form):
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=3)
    kafka.create_topic(sink, partitions=2)
    kafka.produce(source, keyed_messages(keys=6, per_key=50, partitions=3))
    group = "g-" + source
    worker = workers.run(KEYED_COUNT, "--form", form, "--group", group, *kafka_args(kafka, source, sink))
    out = kafka.consume(sink, count=300, timeout=60)
    expect_exact(out, keys=6, per_key=50)
    worker.stop(signal.SIGTERM)
    assert worker.proc.returncode == 0, worker.stderr()
    assert kafka.committed(group, source) == {0: 100, 1: 100, 2: 100}


def test_exactly_once_across_a_kill_with_checkpoints(kafka, workers, tmp_path):
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=3)
    kafka.create_topic(sink, partitions=2)
    kafka.produce(source, keyed_messages(keys=6, per_key=400, partitions=3))
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    args = ["--checkpoint-dir", str(ckdir), "--checkpoint-interval", "200ms", KEYED_COUNT, "--slow-ms", "5"] + \
        kafka_args(kafka, source, sink)
    worker = workers.run(*args)
    assert wait_until(lambda: len(kafka.consume(sink, timeout=2, idle=0.2)) >= 600, 60), worker.stderr()
    worker.kill()
    worker = workers.run(*args)
    out = kafka.consume(sink, count=2400, timeout=90)
    expect_exact(out, keys=6, per_key=400)
    worker.stop(signal.SIGTERM)
    assert worker.proc.returncode == 0, worker.stderr()


# ------------------------------------------------------------------ keys, headers, partitions, timestamps

OPTIONS_COUNT = os.path.join(APPS, "options_count.py")


def run_options_count(kafka, workers, source, sink, *flags):
    return workers.run(OPTIONS_COUNT, *(list(flags) + kafka_args(kafka, source, sink)))


def stop_cleanly(worker):
    code = worker.stop(signal.SIGTERM)
    assert code == 0, worker.stderr()
    return worker.stderr()


def test_an_encoder_sets_partition_key_and_headers_and_the_input_timestamp_is_kept(kafka, workers):
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=2)
    kafka.create_topic(sink, partitions=3)
    base = 1700000000000
    records = [{"key": "k%d" % i, "value": str(n), "partition": i % 2, "timestamp": base + 1000 * i + n}
               for n in range(10) for i in range(4)]
    kafka.produce(source, records)
    worker = run_options_count(kafka, workers, source, sink, "--encoder", "full", "--sink-partitions", "3")
    out = kafka.consume(sink, count=40, timeout=60)
    stop_cleanly(worker)
    assert len(out) == 40
    seen = set()
    for record in out:
        key = record.key.decode()
        i, n = int(key[1:]), int(record.value.decode().split(",")[1])
        assert record.value.decode() == "%s,%d" % (key, n)
        assert record.partition == n % 3, record
        assert record.headers == [("key", key.encode()), ("n", str(n).encode())], record
        assert record.timestamp == base + 1000 * i + n, record
        seen.add((key, n))
    assert seen == {("k%d" % i, n) for i in range(4) for n in range(10)}
    # each partition holds its keys' numbers in order (out is sorted by partition and offset)
    for key, lines in lines_by_key(out).items():
        numbers = [int(line.split(",")[1]) for line in lines]
        assert numbers == sorted(numbers, key=lambda n: (n % 3, n)), (key, numbers)


def test_an_encoder_returning_bytes_writes_messages_without_a_key(kafka, workers):
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=1)
    kafka.create_topic(sink, partitions=1)
    kafka.produce(source, keyed_messages(keys=3, per_key=5, partitions=1))
    worker = run_options_count(kafka, workers, source, sink, "--encoder", "bytes")
    out = kafka.consume(sink, count=15, timeout=60)
    stop_cleanly(worker)
    assert [record.key for record in out] == [None] * 15
    assert [record.headers for record in out] == [[]] * 15
    assert [record.value.decode() for record in out] == ["k%d,%d" % (i, n) for n in range(5) for i in range(3)]


# ------------------------------------------------------------------ Roo's source and sink options

def test_several_topics_are_read_into_one_stream(kafka, workers):
    first, second, sink = kafka.unique_topic("a"), kafka.unique_topic("b"), kafka.unique_topic("out")
    kafka.create_topic(first, partitions=2)
    kafka.create_topic(second, partitions=3)
    kafka.create_topic(sink, partitions=2)
    # keys k0..k3 in the first topic, k4..k7 in the second: every key's sequence is in one partition
    kafka.produce(first, [("k%d" % i, str(n), None, i % 2) for n in range(30) for i in range(4)])
    kafka.produce(second, [("k%d" % i, str(n), None, i % 3) for n in range(30) for i in range(4, 8)])
    group = "g-" + first
    worker = run_options_count(kafka, workers, first, sink, "--topics", second, "--group", group)
    out = kafka.consume(sink, count=240, timeout=60)
    err = stop_cleanly(worker)
    expect_exact(out, keys=8, per_key=30)
    assert "reading 5 partitions as worker 0 of 1: %s/0, %s/1, %s/0, %s/1, %s/2" % (
        first, first, second, second, second) in err
    assert kafka.committed(group, first) == {0: 60, 1: 60}
    assert kafka.committed(group, second) == {0: 30, 1: 60, 2: 30}  # k6; k4 and k7; k5


def produce_until_read(kafka, worker, source, sink, key="probe"):
    """Produces `key` messages (n = 0, 1, ...) until one comes out: from then on the worker reads what comes next."""
    n = 0
    while True:
        kafka.produce(source, [(key, str(n))])
        n += 1
        if any(r.key == key.encode() for r in kafka.consume(sink, timeout=1.5, idle=0.3)):
            return
        assert n < 60 and worker.proc.poll() is None, worker.stderr()


def test_start_latest_skips_what_was_there_before_the_start(kafka, workers):
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=1)
    kafka.create_topic(sink, partitions=1)
    kafka.produce(source, [("k%d" % i, str(n)) for n in range(5) for i in range(3)])
    worker = run_options_count(kafka, workers, source, sink, "--start", "latest")
    produce_until_read(kafka, worker, source, sink)
    kafka.produce(source, [("k%d" % i, str(n)) for n in range(5, 10) for i in range(3)])
    out = kafka.consume(sink, timeout=30, idle=1.0)
    stop_cleanly(worker)
    by_key = lines_by_key(out)
    del by_key["probe"]
    # k<i> starts at 5: the check says so once (its state expected 0), then follows on
    assert dict(by_key) == {"k%d" % i: ["GAP k%d 0 5" % i] + ["k%d,%d" % (i, n) for n in range(6, 10)]
                            for i in range(3)}


def test_start_latest_does_not_skip_past_the_groups_committed_offsets(kafka, workers):
    """start= applies only to a partition without a committed offset: a restart reads on from the group's."""
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=1)
    kafka.create_topic(sink, partitions=1)
    group = "g-" + source
    kafka.produce(source, [("k0", str(n)) for n in range(5)])
    worker = run_options_count(kafka, workers, source, sink, "--group", group)
    assert len(kafka.consume(sink, count=5, timeout=30)) == 5
    stop_cleanly(worker)
    assert kafka.committed(group, source) == {0: 5}
    kafka.produce(source, [("k0", str(n)) for n in range(5, 8)])  # while nothing runs
    worker = run_options_count(kafka, workers, source, sink, "--group", group, "--start", "latest")
    out = kafka.consume(sink, count=8, timeout=30)
    stop_cleanly(worker)
    # the second run's state is new: it says so for its first message (5), then follows on
    assert [r.value.decode() for r in out] == ["k0,%d" % n for n in range(5)] + ["GAP k0 0 5", "k0,6", "k0,7"]
    assert kafka.committed(group, source) == {0: 8}


@pytest.mark.parametrize("flag", ["--kafka-property", "--kafka_source_property"])
def test_a_kafka_property_wins_over_roo_settings(kafka, workers, flag):
    """group.id=... as a property overrides the source's group= option: the offsets are committed there. (With
    --kafka-property the sink's producer gets it too, and librdkafka ignores it there.)"""
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=2)
    kafka.create_topic(sink, partitions=1)
    kafka.produce(source, keyed_messages(keys=4, per_key=10, partitions=2))
    group = "prop-" + source
    worker = run_options_count(kafka, workers, source, sink, "--group", "not-this-" + source,
                               flag, "group.id=" + group)
    out = kafka.consume(sink, count=40, timeout=60)
    stop_cleanly(worker)
    expect_exact(out, keys=4, per_key=10)
    assert kafka.committed(group, source) == {0: 20, 1: 20}
    assert kafka.committed("not-this-" + source, source) == {0: None, 1: None}


def test_a_bad_kafka_property_is_one_line_and_exit_1(kafka, workers):
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=1)
    worker = workers.run(OPTIONS_COUNT, "--kafka-property", "no.such.property=1", *kafka_args(kafka, source, sink),
                         ready=False)
    assert worker.wait(30) == 1
    err = worker.stderr()
    line = 'roo run: unable to configure kafka_source \'Counts\': no.such.property=1: no such configuration ' \
           'property: "no.such.property"\n'
    assert err == line


def crc32_partition(key, partitions):
    return zlib.crc32(key) % partitions


def murmur2_partition(key, partitions):
    """Kafka's (Java's) murmur2 partitioner, which librdkafka's "murmur2" implements."""
    m, r, length = 0x5bd1e995, 24, len(key)
    h = (0x9747b28c ^ length) & 0xffffffff
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(key[i:i + 4], "little")
        k = (k * m) & 0xffffffff
        k ^= k >> r
        k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff
        h ^= k
    tail = length % 4
    rest = key[length - tail:]
    if tail == 3:
        h ^= rest[2] << 16
    if tail >= 2:
        h ^= rest[1] << 8
    if tail >= 1:
        h ^= rest[0]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return (h & 0x7fffffff) % partitions


@pytest.mark.parametrize("partitioner,where", [("consistent", crc32_partition), ("murmur2", murmur2_partition)])
def test_the_partitioner_places_keyed_output(kafka, workers, partitioner, where):
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=1)
    kafka.create_topic(sink, partitions=5)
    kafka.produce(source, keyed_messages(keys=12, per_key=3, partitions=1))
    worker = run_options_count(kafka, workers, source, sink, "--partitioner", partitioner)
    out = kafka.consume(sink, count=36, timeout=60)
    stop_cleanly(worker)
    expect_exact(out, keys=12, per_key=3)
    placed = {record.key: record.partition for record in out}
    assert placed == {key: where(key, 5) for key in placed}
    assert len(set(placed.values())) > 1


# ------------------------------------------------------------------ machida, and several workers

def test_machida_runs_the_g1_form(kafka, workers):
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=2)
    kafka.create_topic(sink, partitions=1)
    kafka.produce(source, keyed_messages(keys=4, per_key=20, partitions=2))
    group = "g-" + source
    worker = workers.machida("keyed_count", APPS, "--form", "g1", "--group", group, *kafka_args(kafka, source, sink))
    out = kafka.consume(sink, count=80, timeout=60)
    stop_cleanly(worker)
    expect_exact(out, keys=4, per_key=20)
    assert kafka.committed(group, source) == {0: 40, 1: 40}


def start_cluster(workers, count, *args):
    """`roo run --workers <count> args...`, once every worker is ready."""
    supervisor = workers.spawn([workers.roo_bin, "run", "--workers", str(count)] + list(args), label="supervisor")
    names = ["initializer"] + ["worker%d" % i for i in range(1, count)]
    for name in names:
        if not wait_until(lambda: "[%s] " % name in supervisor.stderr() and
                          "%s: %s" % (name, READY_LINE) in supervisor.stderr() or supervisor.proc.poll() is not None,
                          60) or supervisor.proc.poll() is not None:
            pytest.fail("worker %s of the cluster not ready; stderr:\n%s" % (name, supervisor.stderr()),
                        pytrace=False)
    return supervisor, names


@pytest.mark.parametrize("count", [2, 3])
def test_a_cluster_splits_the_partitions_and_keeps_every_key_in_order(kafka, workers, count):
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=4)
    kafka.create_topic(sink, partitions=2)
    kafka.produce(source, keyed_messages(keys=8, per_key=40, partitions=4))
    group = "g-" + source
    supervisor, names = start_cluster(workers, count, KEYED_COUNT, "--group", group,
                                      *kafka_args(kafka, source, sink))
    out = kafka.consume(sink, count=320, timeout=90)
    assert supervisor.stop(signal.SIGTERM, timeout=30) == 0, supervisor.stderr()
    expect_exact(out, keys=8, per_key=40)
    err = supervisor.stderr()
    for i, name in enumerate(names):
        mine = [p for p in range(4) if p % count == i]
        line = "[%s] " % name
        expected = "%s: kafka_source 'Counts': reading %d partitions as worker %d of %d: %s\n" % (
            name, len(mine), i, count, ", ".join("%s/%d" % (source, p) for p in mine))
        assert any(l.startswith(line) and l.endswith(expected[:-1]) for l in err.splitlines()), (expected, err)
    assert kafka.committed(group, source) == {0: 80, 1: 80, 2: 80, 3: 80}


# ------------------------------------------------------------------ bad input

def test_a_decoder_that_raises_costs_only_its_message(kafka, workers):
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=2)
    kafka.create_topic(sink, partitions=1)
    records = keyed_messages(keys=4, per_key=10, partitions=2)  # 20 per partition
    records[9:9] = [("k1", "bad-a", None, 1)]      # partition 1, offset 4 (after k1,k3 x2)
    records.append(("k0", "bad-b", None, 0))       # partition 0, offset 20
    kafka.produce(source, records)
    group = "g-" + source
    worker = run_options_count(kafka, workers, source, sink, "--group", group)
    out = kafka.consume(sink, count=40, timeout=60)
    assert wait_until(lambda: kafka.committed(group, source) == {0: 21, 1: 21}, 15), kafka.committed(group, source)
    code = worker.stop(signal.SIGTERM)
    err = worker.stderr()
    expect_exact(out, keys=4, per_key=10)
    with open(OPTIONS_COUNT) as app:
        raise_line = next(i for i, text in enumerate(app, 1) if 'raise ValueError("refusing' in text)
    lines = [line.split(" W roo.python initializer: ", 1)[1] for line in err.splitlines()
             if "decoder of" in line and "event skipped" in line]
    # the partitions are read side by side: either bad message may come first
    assert sorted(lines) == sorted(
        "decoder of source 'Counts' raised on topic '%s' partition %s: ValueError: refusing %s (options_count.py:%d); "
        "event skipped (%d so far)" % (source, where, value, raise_line, count)
        for (where, value), count in zip(sorted([("1 offset 4", "bad-a"), ("0 offset 20", "bad-b")],
                                                key=lambda w: err.index("refusing " + w[1])), (1, 2))), lines
    assert "stopped: 42 events in, 40 outputs written, 2 events failed, 0 events not delivered\n" in err, err
    assert kafka.committed(group, source) == {0: 21, 1: 21}
    assert code == 0, err


def test_a_record_over_the_sinks_max_message_size_is_not_sent_and_reported(kafka, workers):
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=1)
    kafka.create_topic(sink, partitions=1)
    big = "k" + "x" * 499
    records = keyed_messages(keys=2, per_key=5, partitions=1)
    records.insert(3, (big, "0"))
    kafka.produce(source, records)
    worker = run_options_count(kafka, workers, source, sink, "--kafka_sink_max_message_size", "400")
    out = kafka.consume(sink, count=10, timeout=60)
    expect_exact(out, keys=2, per_key=5)
    size = len(big) + len("%s,0" % big)
    line = "kafka_sink 'sink 0': not sending a record of %d bytes to topic '%s': over max_message_size 400 " \
           "(1 so far)\n" % (size, sink)
    assert worker.wait_for_log(line, 10), worker.stderr()
    code = worker.stop(signal.SIGTERM)
    err = worker.stderr()
    assert err.count("not sending a record") == 1, err
    assert "kafka_sink 'sink 0': stopped (%d bytes undelivered)\n" % size in err, err
    # the loss is the worker's last line, and its exit status
    assert "sink 'sink 0': %d bytes not delivered to Kafka topic '%s' before the drain timeout (records over " \
           "max_message_size)\n" % (size, sink) in err, err
    assert err.endswith("not everything was delivered: %d bytes (of output for sink 'sink 0' at Kafka topic '%s')\n"
                        % (size, sink)), err
    assert code == 1, err


def test_an_unknown_topic_at_start_is_one_line_and_exit_1(kafka, workers):
    source, sink = kafka.unique_topic("never-made"), kafka.unique_topic("out")
    worker = workers.run("--kafka-broker-wait", "2", OPTIONS_COUNT, *kafka_args(kafka, source, sink), ready=False)
    assert worker.wait(30) == 1
    err = worker.stderr()
    assert "kafka_source 'Counts': cannot read topic '%s' (unknown topic or partition); retrying for up to 2000 ms\n" \
        % source in err, err
    assert err.endswith("roo run: unable to read topic '%s' for source 'Counts': unknown topic or partition "
                        "(waited 2000 ms)\n" % source), err
    assert source not in [t for t in kafka.admin().list_topics(timeout=10).topics], "the source created the topic"


def test_an_unreachable_sink_broker_loses_nothing_in_silence(kafka, workers):
    """The sink's brokers never answer: at the stop, the drain timeout counts what librdkafka still held; exit 1."""
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=1)
    kafka.produce(source, keyed_messages(keys=2, per_key=5, partitions=1))
    nowhere = "127.0.0.1:%d" % free_port()
    worker = workers.run("--drain-timeout", "3", OPTIONS_COUNT, "--kafka_source_topic", source,
                         "--kafka_source_brokers", kafka.bootstrap, "--kafka_sink_topic", sink,
                         "--kafka_sink_brokers", nowhere)
    assert worker.wait_for_log("kafka_sink 'sink 0': connect to ipv4#%s failed: Connection refused\n" % nowhere, 20), \
        worker.stderr()
    assert worker.proc.poll() is None, worker.stderr()
    time.sleep(1)  # the 10 messages reach the sink meanwhile
    code = worker.stop(signal.SIGTERM, timeout=30)
    err = worker.stderr()
    size = 10 * len("k0,0") + 10 * len("k0")
    assert "sink 'sink 0': %d bytes not delivered to Kafka topic '%s' before the drain timeout (not acknowledged by " \
           "the brokers)\n" % (size, sink) in err, err
    assert "stopped: 10 events in, 10 outputs written, 0 events failed, 0 events not delivered\n" in err, err
    assert err.endswith("not everything was delivered: %d bytes (of output for sink 'sink 0' at Kafka topic '%s')\n"
                        % (size, sink)), err
    assert code == 1, err


# ------------------------------------------------------------------ a growing topic, crashes, backpressure

def test_partitions_added_while_running_are_read(kafka, workers):
    from confluent_kafka.admin import NewPartitions  # only with /usr/bin/python3 (the kafka fixture says so)
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=1)
    kafka.create_topic(sink, partitions=1)
    kafka.produce(source, keyed_messages(keys=3, per_key=5, partitions=1))
    worker = run_options_count(kafka, workers, source, sink)
    assert len(kafka.consume(sink, count=15, timeout=30)) == 15
    admin = kafka.admin()
    for future in admin.create_partitions([NewPartitions(source, 3)]).values():
        future.result(30)
    assert wait_until(lambda: len(kafka.partitions(source)) == 3, 30)
    # new keys in the new partitions (a key's sequence stays in one partition)
    kafka.produce(source, [("k%d" % i, str(n), None, i % 3) for n in range(5) for i in range(3, 9) if i % 3])
    out = kafka.consume(sink, count=15 + 20, timeout=60)
    stop_cleanly(worker)
    by_key = lines_by_key(out)
    assert {key: lines for key, lines in by_key.items()} == {
        "k%d" % i: ["k%d,%d" % (i, n) for n in range(5)] for i in (0, 1, 2, 4, 5, 7, 8)}
    assert "kafka_source 'Counts': reading 2 partitions as worker 0 of 1: %s/1, %s/2\n" % (source, source) in \
        worker.stderr()


def test_without_checkpoints_a_kill_loses_nothing(kafka, workers):
    """At least once: after a kill -9 the restarted worker reads on from the committed offsets (its state is new).

    The offsets are committed every second while a slow app works through one large batch of messages (before the
    fix they were committed only between batches: here, only at the end)."""
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=3)
    kafka.create_topic(sink, partitions=2)
    kafka.produce(source, keyed_messages(keys=6, per_key=150, partitions=3))
    group = "g-" + source
    args = [KEYED_COUNT, "--slow-ms", "10", "--group", group] + kafka_args(kafka, source, sink)
    worker = workers.run(*args)

    def committed_total():
        return sum(offset or 0 for offset in kafka.committed(group, source).values())
    assert wait_until(lambda: committed_total() >= 200, 60, interval=0.1), worker.stderr()
    worker.kill()
    committed = committed_total()
    assert committed < 900, "the kill came after the end: %d committed" % committed
    worker = workers.run(*args, label="restarted")
    # the restarted worker ends with each key's last message; its state started again, so a GAP line may open a key
    assert wait_until(lambda: sum(1 for r in kafka.consume(sink, timeout=2, idle=0.2)
                                  if r.value.decode().endswith((",149", " 149"))) >= 6, 90), worker.stderr()
    stop_cleanly(worker)
    assert kafka.committed(group, source) == {0: 300, 1: 300, 2: 300}
    out = kafka.consume(sink, timeout=30)
    firsts, gaps = collections.defaultdict(list), collections.Counter()
    for record in out:
        line = record.value.decode()
        if line.startswith("GAP "):
            _, key, expected, n = line.split()
            assert expected == "0", line  # only a fresh state (after the restart) may see a gap
            gaps[key] += 1
        else:
            key, n = line.split(",")
        assert record.key.decode() == key
        if int(n) not in firsts[key]:
            firsts[key].append(int(n))
    assert dict(firsts) == {"k%d" % i: list(range(150)) for i in range(6)}
    assert all(count <= 1 for count in gaps.values()), gaps
    duplicates = len(out) - 900
    # the replay starts at the offsets committed before the kill: at most what came after them repeats
    assert 0 <= duplicates <= 900 - committed, (duplicates, committed)
    print("kill -9 without checkpoints: %d duplicates, %d offsets committed at the kill" % (duplicates, committed))


def vm_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS for %d" % pid)


def test_a_slow_app_over_a_large_topic_keeps_memory_bounded(kafka, workers, tmp_path):
    """60 MB of input, an app that takes 2 ms a message: the source pauses its partitions when the executor's mailbox
    is full, and librdkafka's prefetch is bounded (here lowered to 4 MB by a property): memory stays bounded."""
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=1)
    kafka.create_topic(sink, partitions=1)
    pad = "x" * 2000
    kafka.produce(source, [("k%d" % i, "%d %s" % (n, pad)) for n in range(7500) for i in range(4)])
    slow = tmp_path / "slow"
    slow.write_text("")
    worker = run_options_count(kafka, workers, source, sink, "--slow-ms", "2", "--slow-while", str(slow),
                               "--kafka_source_property", "queued.max.messages.kbytes=4096")
    at_start = vm_rss_mb(worker.pid)
    assert len(kafka.consume(sink, count=1, timeout=30)) == 1
    samples = []
    for _ in range(6):
        time.sleep(0.5)
        samples.append(vm_rss_mb(worker.pid))
    slow.unlink()  # full speed from here
    out = kafka.consume(sink, count=30000, timeout=120)
    stop_cleanly(worker)
    # 60 MB were there to read; what it holds is librdkafka's 4 MB, the mailbox's batches and the pipeline's outputs
    assert max(samples) - at_start < 40, (at_start, samples)
    expect_exact(out, keys=4, per_key=7500)


def test_the_celsius_kafka_example_converts_every_reading_keyed_by_sensor(kafka, workers):
    import struct
    source, sink = kafka.unique_topic("celsius"), kafka.unique_topic("fahrenheit")
    kafka.create_topic(source, partitions=3)
    kafka.create_topic(sink, partitions=3)
    kafka.produce(source, [("sensor-%d" % (i % 4), struct.pack(">d", i / 10.0)) for i in range(40)])
    app = os.path.join(os.path.dirname(os.path.dirname(APPS)), "..", "examples", "celsius_kafka", "celsius_kafka.py")
    worker = workers.run(os.path.normpath(app), *kafka_args(kafka, source, sink))
    out = kafka.consume(sink, count=40, timeout=60)
    worker.stop(signal.SIGTERM)
    by_sensor = lines_by_key(out)
    for s in range(4):
        assert by_sensor["sensor-%d" % s] == ["sensor-%d: %.2f C = %.2f F" % (s, i / 10.0, i / 10.0 * 1.8 + 32)
                                              for i in range(s, 40, 4)]


def test_consumer_lag_is_visible_in_the_metrics(kafka, workers):
    """roo_kafka_consumer_lag_messages (docs/metrics.md) through the worker's HTTP endpoint: one gauge per partition
    of the source's topic, 0 on each once the source has read everything (it reads ahead of a slow app into the
    executor's queue, so Kafka's lag is what the source has not fetched; a lag that counts what a paused source left
    unread, and grows with new messages, is checked against the broker in tests/io/kafka_source_test.cpp)."""
    import json
    import urllib.request
    source, sink = kafka.unique_topic("in"), kafka.unique_topic("out")
    kafka.create_topic(source, partitions=2)
    kafka.create_topic(sink, partitions=1)
    kafka.produce(source, keyed_messages(keys=2, per_key=300, partitions=2))  # 300 per partition
    http = "127.0.0.1:%d" % free_port()
    worker = workers.spawn([workers.roo_bin, "run", "--metrics-http", http, KEYED_COUNT, "--slow-ms", "1",
                            "--group", "g-" + source] + kafka_args(kafka, source, sink))
    worker.wait_ready()

    def get(path):
        with urllib.request.urlopen("http://%s%s" % (http, path), timeout=5) as answer:
            return answer.read().decode("utf-8")

    def lags():
        return {int(v["labels"]["partition"]): v["value"] for v in json.loads(get("/api/worker"))["values"]
                if v["name"] == "roo_kafka_consumer_lag_messages" and v["labels"]["topic"] == source}

    assert len(kafka.consume(sink, count=600, timeout=30)) == 600
    assert wait_until(lambda: lags() == {0: 0, 1: 0}, 10), (lags(), worker.stderr()[-2000:])
    from prometheus_client.parser import text_string_to_metric_families
    exported = {(sample.labels["topic"], sample.labels["partition"]): sample.value
                for family in text_string_to_metric_families(get("/metrics"))
                if family.name == "roo_kafka_consumer_lag_messages" for sample in family.samples}
    assert {key: lag for key, lag in exported.items() if key[0] == source} == {(source, "0"): 0, (source, "1"): 0}
    assert worker.stop() == 0
