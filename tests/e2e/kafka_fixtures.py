"""The pytest `kafka` fixture: a real Apache Kafka broker for the session, and client-side helpers.

The fixture starts its own single-node broker (tools/kafka/broker, in a session temp dir, on free ports) the first
time a test asks for it, and stops it at the end of the session. Clients are confluent_kafka (Debian's
python3-confluent-kafka, for /usr/bin/python3). The helpers:

* `kafka.bootstrap`: "127.0.0.1:PORT".
* `kafka.unique_topic(hint="t")`: a topic name no other test of any session uses.
* `kafka.create_topic(name, partitions=1, config=None)`: creates it, returns when every partition has a leader.
* `kafka.produce(topic, records, transactional_id=None)`: each record is `(key, value)`,
  `(key, value, headers)`, `(key, value, headers, partition)` or a dict with those names (and `timestamp`, in
  ms); str keys and values are UTF-8 encoded; headers are a list of (name, value) pairs or a dict. Returns once
  every record is acknowledged (acks=all); fails the test with the first delivery error.
* `kafka.consume(topic, count=None, timeout=30.0, isolation="read_committed", group=None, idle=1.0)`: a list of
  `KafkaRecord(topic, partition, offset, key, value, headers, timestamp)`, sorted by (partition, offset), read
  from the start of every partition. Without `group`, no consumer group and nothing committed; with `group`, a
  member of that group reading from its committed offsets (earliest when none) and committing what it read.
  Stops after `count` records, or (count=None) when every partition is at its end and nothing new came for
  `idle` seconds, or when `timeout` seconds pass (then returning what it has: tests compare it with what they
  expect). Keys and values are bytes (None when absent), headers a list of (name, bytes), timestamp in ms.
* `kafka.committed(group, topic)`: {partition: committed offset, or None}, for every partition of the topic.
* `kafka.restart()`, `kafka.stop()`, `kafka.start()`, `kafka.kill()`: the broker process (same ports, data kept).
* `kafka.producer(**config)`, `kafka.consumer(**config)`, `kafka.admin()`: confluent_kafka clients with
  bootstrap.servers set (dots in config names as `**{"enable.idempotence": True}`).
* `kafka.broker`: the KafkaBroker (kafka_broker.py), e.g. `kafka.broker.log_tail()`.
"""
import collections
import itertools
import os
import sys
import time
import uuid

import pytest

from kafka_broker import BrokerError, KafkaBroker

KafkaRecord = collections.namedtuple("KafkaRecord", "topic partition offset key value headers timestamp")

_topic_numbers = itertools.count(1)


def _confluent_kafka():
    try:
        import confluent_kafka
        import confluent_kafka.admin  # noqa: F401  (AdminClient, NewTopic)
        return confluent_kafka
    except ImportError as error:
        pytest.fail("the kafka fixture needs confluent_kafka, which %s cannot import (%s): run pytest with "
                    "/usr/bin/python3 (Debian's python3-confluent-kafka; tools/setup installs it)"
                    % (sys.executable, error), pytrace=False)


def _bytes(value):
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError("a Kafka key, value or header value must be bytes, str or None, not %r" % (value,))


def _record_fields(record):
    if isinstance(record, dict):
        fields = dict(record)
    else:
        fields = dict(zip(("key", "value", "headers", "partition"), record))
    headers = fields.get("headers") or []
    if isinstance(headers, dict):
        headers = list(headers.items())
    produce_args = {"key": _bytes(fields.get("key")), "value": _bytes(fields.get("value"))}
    if headers:
        produce_args["headers"] = [(name, _bytes(value)) for name, value in headers]
    if fields.get("partition") is not None:
        produce_args["partition"] = fields["partition"]
    if fields.get("timestamp") is not None:
        produce_args["timestamp"] = fields["timestamp"]
    return produce_args


class Kafka(object):
    """The session's broker plus client helpers (see the module docstring)."""

    def __init__(self, broker):
        self.broker = broker
        self.ck = _confluent_kafka()

    @property
    def bootstrap(self):
        return self.broker.bootstrap

    # --- the broker process ---

    def start(self):
        self.broker.start()

    def stop(self):
        self.broker.stop()

    def restart(self):
        self.broker.restart()

    def kill(self):
        self.broker.kill()

    # --- clients ---

    def producer(self, **config):
        return self.ck.Producer(dict({"bootstrap.servers": self.bootstrap}, **config))

    def consumer(self, **config):
        return self.ck.Consumer(dict({"bootstrap.servers": self.bootstrap}, **config))

    def admin(self, **config):
        return self.ck.admin.AdminClient(dict({"bootstrap.servers": self.bootstrap}, **config))

    def unique_topic(self, hint="t"):
        """A name no other test uses: hint, this process and a counter, and a random part for other sessions."""
        return "roo-%s-%d-%d-%s" % (hint, os.getpid(), next(_topic_numbers), uuid.uuid4().hex[:6])

    def partitions(self, topic, timeout=30.0):
        """The topic's partition numbers, waiting until it exists and each partition has a leader."""
        admin = self.admin()
        deadline = time.monotonic() + timeout
        while True:
            metadata = admin.list_topics(topic, timeout=max(1.0, deadline - time.monotonic()))
            found = metadata.topics.get(topic)
            if found is not None and found.error is None and found.partitions and all(
                    p.leader >= 0 and p.error is None for p in found.partitions.values()):
                return sorted(found.partitions)
            if time.monotonic() >= deadline:
                error = found.error if found is not None else "not in the metadata"
                pytest.fail("Kafka topic %r not ready after %.0f s: %s" % (topic, timeout, error), pytrace=False)
            time.sleep(0.05)

    def create_topic(self, name, partitions=1, config=None, timeout=30.0):
        new_topic = self.ck.admin.NewTopic(name, num_partitions=partitions, replication_factor=1,
                                           config=dict(config or {}))
        admin = self.admin()  # kept alive until the futures are done: a destroyed client fails them
        futures = admin.create_topics([new_topic], request_timeout=timeout)
        try:
            futures[name].result(timeout)
        except self.ck.KafkaException as error:
            pytest.fail("unable to create Kafka topic %r: %s" % (name, error), pytrace=False)
        found = self.partitions(name, timeout)
        assert len(found) == partitions, "topic %r has partitions %s, not %d" % (name, found, partitions)
        return name

    def produce(self, topic, records, transactional_id=None, timeout=30.0):
        """Produce every record and wait for all acknowledgements (see the module docstring)."""
        config = {"acks": "all", "linger.ms": 5, "enable.idempotence": True}
        if transactional_id is not None:
            config["transactional.id"] = transactional_id
        producer = self.producer(**config)
        errors = []

        def delivered(error, message):
            if error is not None:
                errors.append("%s [%s]: %s" % (message.topic(), message.partition(), error))

        if transactional_id is not None:
            producer.init_transactions(timeout)
            producer.begin_transaction()
        for record in records:
            while True:
                try:
                    producer.produce(topic, on_delivery=delivered, **_record_fields(record))
                    break
                except BufferError:
                    producer.poll(0.1)
        if transactional_id is not None:
            producer.commit_transaction(timeout)
        remaining = producer.flush(timeout)
        assert not errors, "Kafka delivery failed: %s" % "; ".join(errors[:5])
        assert remaining == 0, "%d Kafka records not acknowledged within %.0f s" % (remaining, timeout)

    def consume(self, topic, count=None, timeout=30.0, isolation="read_committed", group=None, idle=1.0):
        """Records of every partition from the start (see the module docstring)."""
        config = {"isolation.level": isolation, "enable.partition.eof": True, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "group.id": group or "roo-test-reader-%s" % uuid.uuid4().hex}
        consumer = self.consumer(**config)
        records = []
        try:
            partitions = self.partitions(topic, timeout)
            if group is None:
                consumer.assign([self.ck.TopicPartition(topic, p, self.ck.OFFSET_BEGINNING) for p in partitions])
            else:
                consumer.subscribe([topic])
            at_end = set()
            deadline = time.monotonic() + timeout
            last_record = time.monotonic()
            while count is None or len(records) < count:
                now = time.monotonic()
                if now >= deadline:
                    break
                if count is None and at_end.issuperset(partitions) and now - last_record >= idle:
                    break
                message = consumer.poll(min(0.1, deadline - now))
                if message is None:
                    continue
                if message.error() is not None:
                    if message.error().code() == self.ck.KafkaError._PARTITION_EOF:
                        at_end.add(message.partition())
                        continue
                    pytest.fail("consuming Kafka topic %r: %s" % (topic, message.error()), pytrace=False)
                at_end.discard(message.partition())
                last_record = time.monotonic()
                records.append(KafkaRecord(message.topic(), message.partition(), message.offset(), message.key(),
                                           message.value(), list(message.headers() or []),
                                           message.timestamp()[1]))
            if group is not None and records:
                consumer.commit(asynchronous=False)
        finally:
            consumer.close()
        return sorted(records, key=lambda r: (r.partition, r.offset))

    def committed(self, group, topic, timeout=30.0):
        """{partition: the group's committed offset for it, or None}."""
        partitions = self.partitions(topic, timeout)
        consumer = self.consumer(**{"group.id": group, "isolation.level": "read_committed",
                                    "enable.auto.commit": False})
        try:
            found = consumer.committed([self.ck.TopicPartition(topic, p) for p in partitions], timeout=timeout)
        finally:
            consumer.close()
        return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in found}


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    """A real Kafka broker for the whole session (see the module docstring for what it offers)."""
    _confluent_kafka()
    broker = KafkaBroker(str(tmp_path_factory.mktemp("kafka-broker")))
    try:
        broker.start()
    except BrokerError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield Kafka(broker)
    finally:
        broker.stop()
