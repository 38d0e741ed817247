"""Kafka sink: produces every message as one record of a topic, through confluent_kafka (Debian's
python3-confluent-kafka).

Params: ``--NAME-brokers H:P[,H:P...]`` and ``--NAME-topic T`` (required).
The decoder's value must be bytes or str (UTF-8), the record's value; records have no key (the default partitioner
spreads them). The producer is idempotent with acks=all; on each two-phase-commit PHASE1 the sink waits until every
record is acknowledged before it votes commit (at-least-once with a worker that runs those rounds). A record Kafka
refuses stops the sink with one line.
"""

from ._sink_script import Sink, SinkFailed, as_bytes, run_sink

PROGRAM = "kafka-sink"
FLUSH_TIMEOUT_S = 60.0


class KafkaSink(Sink):
    def __init__(self, brokers, topic):
        try:
            import confluent_kafka
        except ImportError as e:
            raise SinkFailed("needs confluent_kafka (Debian: python3-confluent-kafka): {0}".format(e))
        self.topic = topic
        self.errors = []
        self.producer = confluent_kafka.Producer({"bootstrap.servers": brokers, "acks": "all",
                                                  "enable.idempotence": True, "linger.ms": 5})

    def _delivered(self, error, record):
        if error is not None:
            self.errors.append("{0} [{1}]: {2}".format(record.topic(), record.partition(), error.str()))

    def _check(self):
        if self.errors:
            raise SinkFailed("Kafka refused a record: {0}".format(self.errors[0]))

    def write(self, value):
        data = as_bytes(value, PROGRAM)
        while True:
            try:
                self.producer.produce(self.topic, data, on_delivery=self._delivered)
                break
            except BufferError:
                self.producer.poll(0.1)
        self._check()

    def flush(self):
        self.producer.poll(0)
        self._check()

    def commit(self):
        remaining = self.producer.flush(FLUSH_TIMEOUT_S)
        self._check()
        if remaining:
            raise SinkFailed("{0} records not acknowledged by Kafka within {1:.0f} s".format(
                remaining, FLUSH_TIMEOUT_S))

    def close(self):
        self.producer.flush(FLUSH_TIMEOUT_S)


def make_sink(settings):
    return KafkaSink(settings.params.brokers, settings.params.topic)


def main(argv=None):
    run_sink(PROGRAM, make_sink, ["brokers", "topic"], [], argv)


if __name__ == "__main__":
    main()
