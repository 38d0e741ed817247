"""RabbitMQ source: consumes a queue, on one stream named ``rabbitmq:HOST:PORT/VHOST/QUEUE``, through pika
(Debian's python3-pika).

Params: ``--NAME-queue Q`` (required; the queue must exist); optional ``--NAME-host H`` (default ``127.0.0.1``),
``--NAME-port P`` (default 5672), ``--NAME-vhost V`` (default ``/``), ``--NAME-user U`` and ``--NAME-password PW``
(default ``guest``/``guest``), ``--NAME-prefetch N`` (unacknowledged deliveries at most; default 100).
A message's payload is the delivery's body, its key the routing key.
Point of reference: a counter (message ids go on from the worker's point of reference, as in _counted_source.py),
each id remembered with its delivery tag. A delivery is acknowledged to RabbitMQ only when the worker acknowledges a
point of reference at or past its id, so the guarantee is at-least-once end to end: deliveries the worker has not
acknowledged are redelivered by RabbitMQ when the connector stops or dies, and requeued (nack) when the worker
reopens the stream after a RESTART.
"""

import collections

from ..experimental.sources import U64_MAX
from ._counted_source import CountedSource
from ._script import number
from ._source_script import SourceFailed, run_source

PROGRAM = "rabbitmq-source"


def _text(error):
    """The broker's reply text when it closed the channel or connection, else the error's own words."""
    return getattr(error, "reply_text", None) or str(error) or type(error).__name__


class QueueSource(CountedSource):
    def __init__(self, pika, params, queue, prefetch):
        CountedSource.__init__(self, "rabbitmq:{0}:{1}/{2}/{3}".format(params.host, params.port,
                                                                         params.virtual_host, queue))
        self.pika = pika
        self.deliveries = collections.deque()   # (method, body) received, not yet sent
        self.unacked = collections.deque()      # (message id, delivery tag) sent, not yet acknowledged
        try:
            self.connection = pika.BlockingConnection(params)
            self.channel = self.connection.channel()
            self.channel.queue_declare(queue, passive=True)
            self.channel.basic_qos(prefetch_count=prefetch)
            self.channel.basic_consume(queue, self._delivered, auto_ack=False)
        except pika.exceptions.AMQPError as e:
            raise SourceFailed("unable to consume queue {0}: {1}".format(queue, _text(e)))

    def _delivered(self, channel, method, properties, body):
        self.deliveries.append((method, body))

    def receive(self):
        if not self.deliveries:
            try:
                self.connection.process_data_events(time_limit=0)
            except self.pika.exceptions.AMQPError as e:
                raise SourceFailed("lost the connection: {0}".format(_text(e)))
        if not self.deliveries:
            return None
        method, body = self.deliveries.popleft()
        self.key = method.routing_key.encode("utf-8") if method.routing_key else None
        self.unacked.append((self.last_id + 1, method.delivery_tag))
        return body

    def wallaroo_acked(self, point_of_ref):
        last_tag = None
        while self.unacked and self.unacked[0][0] <= point_of_ref:
            last_tag = self.unacked.popleft()[1]
        if last_tag is not None:
            self.channel.basic_ack(last_tag, multiple=True)

    def reset(self, pos=U64_MAX):
        """The stream (re)opens at ``pos``: what the worker has up to there is acknowledged, whatever was sent after
        it goes back to the queue."""
        if pos != U64_MAX:
            self.wallaroo_acked(pos)
        CountedSource.reset(self, pos)
        if self.unacked or self.deliveries:
            self.channel.basic_nack(0, multiple=True, requeue=True)
        self.unacked.clear()
        self.deliveries.clear()

    def close(self):
        try:
            self.connection.close()
        except self.pika.exceptions.AMQPError:
            pass


def make_sources(settings):
    try:
        import pika
    except ImportError as e:
        raise SourceFailed("needs pika (Debian: python3-pika): {0}".format(e))
    params = settings.params
    connection = pika.ConnectionParameters(
        host=params.host or "127.0.0.1", port=number(settings, "port", 5672), virtual_host=params.vhost or "/",
        credentials=pika.PlainCredentials(params.user or "guest", params.password or "guest"))
    return [QueueSource(pika, connection, params.queue, number(settings, "prefetch", 100))]


def main(argv=None):
    run_source(PROGRAM, make_sources, ["queue"], ["host", "port", "vhost", "user", "password", "prefetch"], argv)


if __name__ == "__main__":
    main()
