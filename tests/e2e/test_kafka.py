"""Kafka in and out (issue 10; docs/kafka.md): real `roo` processes against the real test broker (kafka fixture).

The app is tests/e2e/kafka_apps/keyed_count.py: messages keyed "k<i>" carry each key's sequence number; the app keys
the stream by the message key (its decoder takes it), checks every number follows its key's last one, and writes
"key,n" (or "GAP ...") with the key as the output's Kafka key.
"""
import collections
import os
import signal

import pytest

from conftest import wait_until

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
