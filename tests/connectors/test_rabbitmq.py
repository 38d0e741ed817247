"""The RabbitMQ source (wallaroo.connectors.rabbitmq_source) against a real RabbitMQ server (servers.py) and a real
protocol peer (protocol_worker.py)."""
import signal

import pytest

from protocol_worker import ProtocolWorker
from wallaroo.experimental.source_connectors import stream_id_of

pika = pytest.importorskip("pika", reason="pika is not installed (Debian: python3-pika)")


class Broker(object):
    def __init__(self, port):
        self.connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
        self.channel = self.connection.channel()

    def declare(self, queue):
        self.channel.queue_declare(queue, durable=True)

    def publish(self, queue, body):
        self.channel.basic_publish("", queue, body)

    def ready(self, queue):
        """Messages in the queue waiting for a consumer (not delivered, or delivered and not acknowledged yet
        once their consumer is gone)."""
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def close(self):
        self.connection.close()


def test_rabbitmq_source_acks_only_what_the_worker_acked(rabbitmq_server, connector_app, start_connector):
    broker = Broker(rabbitmq_server.port)
    broker.declare("jobs")
    for body in (b"j1", b"j2", b"j3"):
        broker.publish("jobs", body)
    worker = ProtocolWorker()
    app = connector_app(source_port=worker.port)
    sid = stream_id_of("rabbitmq:127.0.0.1:%d///jobs" % rabbitmq_server.port)
    connector = start_connector("rabbitmq_source", app, "--in-port", rabbitmq_server.port, "--in-queue", "jobs")
    assert worker.wait_for_messages(3, timeout=20) == [(sid, 1, b"jobs", b"j1"), (sid, 2, b"jobs", b"j2"),
                                                       (sid, 3, b"jobs", b"j3")]
    worker.ack(sid, 2)  # j1 and j2 are safe in the worker; j3 is not
    assert worker.wait_for(lambda w: broker.ready("jobs") == 0)
    connector.stop(signal.SIGKILL)
    assert worker.wait_for(lambda w: broker.ready("jobs") == 1), "RabbitMQ did not requeue the unacknowledged j3"

    worker.resume_at(sid, 2)
    connector = start_connector("rabbitmq_source", app, "--in-port", rabbitmq_server.port, "--in-queue", "jobs")
    broker.publish("jobs", b"j4")
    assert worker.wait_for_messages(5, timeout=20)[3:] == [(sid, 3, b"jobs", b"j3"), (sid, 4, b"jobs", b"j4")]
    worker.ack_last(sid)
    assert connector.stop() == 0
    assert broker.ready("jobs") == 0
    assert connector.stderr() == ""
    broker.close()
    worker.close()


def test_rabbitmq_source_requeues_what_a_restart_drops(rabbitmq_server, connector_app, start_connector):
    broker = Broker(rabbitmq_server.port)
    broker.declare("tasks")
    for body in (b"t1", b"t2"):
        broker.publish("tasks", body)
    worker = ProtocolWorker()
    sid = stream_id_of("rabbitmq:127.0.0.1:%d///tasks" % rabbitmq_server.port)
    connector = start_connector("rabbitmq_source", connector_app(source_port=worker.port), "--in-port",
                                rabbitmq_server.port, "--in-queue", "tasks")
    assert len(worker.wait_for_messages(2, timeout=20)) == 2
    worker.resume_at(sid, 1)  # the worker rolled back to just after t1: t1 is acknowledged, t2 requeued
    worker.restart()
    assert [m[1:] for m in worker.wait_for_messages(3, timeout=20)[2:]] == [(2, b"tasks", b"t2")]
    worker.ack_last(sid)
    assert worker.wait_for(lambda w: broker.ready("tasks") == 0)
    assert connector.stop() == 0
    broker.close()
    worker.close()


def test_rabbitmq_source_of_a_missing_queue_says_so(rabbitmq_server, connector_app, start_connector):
    connector = start_connector("rabbitmq_source", connector_app(), "--in-port", rabbitmq_server.port,
                                "--in-queue", "nowhere")
    assert connector.wait(30) == 1
    assert connector.stderr() == ("rabbitmq-source: unable to consume queue nowhere: NOT_FOUND - no queue "
                                  "'nowhere' in vhost '/'\n")
