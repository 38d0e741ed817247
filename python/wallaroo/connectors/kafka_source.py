"""Kafka source: the records of a topic, one stream per partition (named ``kafka:TOPIC:PARTITION``), through
confluent_kafka (Debian's python3-confluent-kafka).

Params: ``--NAME-brokers H:P[,H:P...]`` and ``--NAME-topic T`` (required); optional ``--NAME-group G`` (the
consumer group acknowledged offsets are committed to; default ``roo-connector-NAME``), ``--NAME-partitions
P[,P...]`` (default: every partition the topic has when the script starts), ``--NAME-offset-reset
earliest|latest`` (where a partition starts when neither the worker nor the group has a position; default
``earliest``).
Point of reference: the record's offset + 1 (the next offset to read, as Kafka commits it). A stream starts at the
worker's point of reference; when the worker has none, at the group's committed offset; else per offset-reset.
Every point of reference the worker acknowledges is committed to the group. The record's key is the message's key.
Guarantee: at-least-once (records after the last acknowledged offset are sent again after a restart).
"""

import sys
import time

from ..experimental.connector_errors import ConnectorError
from ..experimental.sources import U64_MAX, BaseSource
from ._script import choice
from ._source_script import SourceFailed, run_source

PROGRAM = "kafka-source"
METADATA_TIMEOUT_S = 30.0


def _kafka():
    try:
        import confluent_kafka
        return confluent_kafka
    except ImportError as e:
        raise SourceFailed("needs confluent_kafka (Debian: python3-confluent-kafka): {0}".format(e))


class PartitionSource(BaseSource):
    """One partition, read by a consumer of its own (assigned, not subscribed: no rebalancing)."""

    def __init__(self, kafka, config, topic, partition):
        BaseSource.__init__(self, "kafka:{0}:{1}".format(topic, partition))
        self.kafka = kafka
        self.topic = topic
        self.partition = partition
        self.consumer = kafka.Consumer(config)
        self.offset_reset = config.get("auto.offset.reset", "earliest")
        self.next_offset = None
        self.committed = None

    def _assign(self, offset):
        self.consumer.assign([self.kafka.TopicPartition(self.topic, self.partition, offset)])

    def point_of_ref(self):
        return U64_MAX if self.next_offset is None else self.next_offset

    def _committed_offset(self):
        """The group's committed offset (None: none yet), asked for here rather than left to OFFSET_STORED:
        librdkafka 2.0 never fetches a partition whose committed-offset lookup failed as a whole (a coordinator
        still loading, right after a broker starts), with no error (docs/notes.md). Retried for METADATA_TIMEOUT_S."""
        deadline = time.monotonic() + METADATA_TIMEOUT_S
        while True:
            try:
                found = self.consumer.committed([self.kafka.TopicPartition(self.topic, self.partition)], timeout=5.0)
                error = found[0].error if found else None
                if error is None:
                    return found[0].offset if found and found[0].offset >= 0 else None
            except self.kafka.KafkaException as e:
                error = e
            if time.monotonic() >= deadline:
                raise SourceFailed("unable to read the committed offset of {0} [{1}]: {2}".format(
                    self.topic, self.partition, error))
            time.sleep(0.2)

    def reset(self, pos=U64_MAX):
        if pos == U64_MAX:
            committed = self._committed_offset()
            if committed is not None:
                self._assign(committed)
            else:
                self._assign(self.kafka.OFFSET_BEGINNING if self.offset_reset == "earliest" else self.kafka.OFFSET_END)
            self.next_offset = None
        else:
            self._assign(pos)
            self.next_offset = pos

    def __next__(self):
        record = self.consumer.poll(0)
        if record is None:
            return None, self.point_of_ref()
        error = record.error()
        if error is not None:
            if error.fatal() or error.code() in (self.kafka.KafkaError.UNKNOWN_TOPIC_OR_PART,
                                                 self.kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED):
                raise SourceFailed("partition {0} of {1}: {2}".format(self.partition, self.topic, error.str()))
            return None, self.point_of_ref()  # transient (a broker away): librdkafka retries
        self.next_offset = record.offset() + 1
        self.key = record.key()
        return record.value() or b"", self.next_offset

    next = __next__

    def wallaroo_acked(self, point_of_ref):
        if point_of_ref == U64_MAX or (self.committed is not None and point_of_ref <= self.committed):
            return
        try:
            self.consumer.commit(offsets=[self.kafka.TopicPartition(self.topic, self.partition, point_of_ref)],
                                 asynchronous=False)
            self.committed = point_of_ref
        except self.kafka.KafkaException as e:
            sys.stderr.write("{0}: unable to commit offset {1} of {2} [{3}] (the next acknowledgement "
                             "commits again): {4}\n".format(PROGRAM, point_of_ref, self.topic, self.partition, e))

    def close(self):
        self.consumer.close()


def _partitions(kafka, config, topic):
    consumer = kafka.Consumer(config)
    try:
        metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
    except kafka.KafkaException as e:
        raise SourceFailed("unable to read the metadata of topic {0}: {1}".format(topic, e))
    finally:
        consumer.close()
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        raise SourceFailed("topic {0} does not exist ({1})".format(
            topic, found.error.str() if found is not None and found.error is not None else "no partitions"))
    return sorted(found.partitions)


def _partition_list(settings):
    text = settings.params.partitions
    try:
        return [int(p) for p in text.split(",") if p]
    except ValueError:
        raise ConnectorError("{0} must be partition numbers separated by commas, got {1!r}".format(
            settings.flag("partitions"), text))


def make_sources(settings):
    kafka = _kafka()
    params = settings.params
    config = {"bootstrap.servers": params.brokers,
              "group.id": params.group or "roo-connector-{0}".format(params.connector_name),
              "enable.auto.commit": False, "enable.auto.offset.store": False,
              "auto.offset.reset": choice(settings, "offset-reset", "earliest", ("earliest", "latest"))}
    partitions = _partition_list(settings) if params.partitions else _partitions(kafka, config, params.topic)
    return [PartitionSource(kafka, config, params.topic, p) for p in partitions]


def main(argv=None):
    run_source(PROGRAM, make_sources, ["brokers", "topic"], ["group", "partitions", "offset-reset"], argv)


if __name__ == "__main__":
    main()
