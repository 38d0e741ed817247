"""The Kafka connectors (wallaroo.connectors.kafka_source/kafka_sink) against the session's real broker
(tests/e2e/kafka_fixtures.py) and a real protocol peer (protocol_worker.py)."""
import signal

from protocol_worker import ProtocolWorker, SinkPeer
from wallaroo.experimental.source_connectors import stream_id_of

from loopback_ports import free_port


def by_stream(messages, sid):
    return [(m[1], m[2], m[3]) for m in messages if m[0] == sid]


def test_kafka_source_streams_partitions_commits_acks_and_resumes(kafka, connector_app, start_connector):
    topic = kafka.create_topic(kafka.unique_topic("conn-src"), partitions=2)
    group = "roo-conn-test-" + topic
    kafka.produce(topic, [("a", "a0", None, 0), ("a", "a1", None, 0), ("a", "a2", None, 0), ("b", "b0", None, 1)])
    sid0, sid1 = stream_id_of("kafka:%s:0" % topic), stream_id_of("kafka:%s:1" % topic)
    worker = ProtocolWorker()
    params = ("--in-brokers", kafka.bootstrap, "--in-topic", topic, "--in-group", group)
    connector = start_connector("kafka_source", connector_app(source_port=worker.port), *params)
    # Generous: on a loaded machine the group's first offset lookup (a new broker's __consumer_offsets) once
    # took more than 30 s.
    messages = worker.wait_for_messages(4, timeout=90)
    assert sorted(n[:2] for n in worker.notified) == sorted([(sid0, "kafka:%s:0" % topic),
                                                             (sid1, "kafka:%s:1" % topic)])
    assert by_stream(messages, sid0) == [(1, b"a", b"a0"), (2, b"a", b"a1"), (3, b"a", b"a2")]
    assert by_stream(messages, sid1) == [(1, b"b", b"b0")]
    worker.ack(sid0, 2)  # a0 and a1 are safe in the worker: offset 2 is committed
    assert worker.wait_for(lambda w: kafka.committed(group, topic) == {0: 2, 1: None}, timeout=60)
    connector.stop(signal.SIGKILL)
    worker.close()

    kafka.produce(topic, [("a", "a3", None, 0), ("b", "b1", None, 1)])
    fresh = ProtocolWorker()  # no record of the streams: partition 0 resumes from the group's offset 2
    fresh.resume_at(sid1, 1)  # the worker's point of reference wins: partition 1 resumes after b0
    connector = start_connector("kafka_source", connector_app(source_port=fresh.port), *params)
    messages = fresh.wait_for_messages(3, timeout=90)
    assert by_stream(messages, sid0) == [(3, b"a", b"a2"), (4, b"a", b"a3")]
    assert by_stream(messages, sid1) == [(2, b"b", b"b1")]
    assert connector.stop() == 0
    assert connector.stderr() == ""
    fresh.close()


def test_kafka_source_of_a_missing_topic_says_so(kafka, connector_app, start_connector):
    topic = kafka.unique_topic("missing")
    connector = start_connector("kafka_source", connector_app(source_port=1), "--in-brokers", kafka.bootstrap,
                                "--in-topic", topic)
    assert connector.wait(40) == 1
    assert connector.stderr().startswith("kafka-source: topic %s does not exist (" % topic)
    assert connector.stderr().count("\n") == 1


def test_kafka_sink_produces_each_message_before_voting_commit(kafka, connector_app, start_connector):
    topic = kafka.create_topic(kafka.unique_topic("conn-sink"))
    port = free_port()
    sink = start_connector("kafka_sink", connector_app(sink_port=port), "--out-brokers", kafka.bootstrap,
                           "--out-topic", topic)
    peer = SinkPeer(port)
    peer.open_stream()
    for payload in (b"one", b"two", b"three"):
        peer.send(payload)
    assert peer.phase1("t:c_id=1") is True
    records = kafka.consume(topic, count=3, timeout=20)
    assert [(r.key, r.value) for r in records] == [(None, b"one"), (None, b"two"), (None, b"three")]
    assert sink.stop() == 0
    assert sink.stderr() == ""
