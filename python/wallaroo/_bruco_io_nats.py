"""NATS source and sink configs (docs/nats.md), for Wallaroo-style pipelines and Bruco mode.

::

    from wallaroo._bruco_io_nats import NatsSourceConfig, NatsSinkConfig
    p = wallaroo.source("Orders", NatsSourceConfig("Orders", "nats://127.0.0.1:4222", "orders.in",
                                                   decode, queue_group="workers"))
    p = p.to(handle).to_sink(NatsSinkConfig("nats://127.0.0.1:4222", "orders.out", encode))

Each NATS message's data is one event for the decoder (no length header); each encoder output is
one message. The decoder and encoder may be ``@wallaroo.decoder``/``@wallaroo.encoder`` objects,
objects with ``decode``/``encode``, or plain functions of one argument.
"""


class NatsSourceConfig(object):
    """A NATS core subscription to ``subject`` on ``server_url`` (``"nats://host:port"``).

    ``queue_group``: subscribers in one group share the messages (each goes to one of them).
    None: the application's own group ``"roo.<app>.<source name>"``, so the workers of one
    application share the messages too.
    """

    def __init__(self, name, server_url, subject, decoder, queue_group=None):
        self.name, self.server_url, self.subject = name, server_url, subject
        self.decoder, self.queue_group = decoder, queue_group

    def to_tuple(self):
        return ("nats", self.name, self.server_url, self.subject, self.decoder, self.queue_group)


class NatsSinkConfig(object):
    """A NATS core publisher: every output the encoder returns is one message on ``subject``."""

    def __init__(self, server_url, subject, encoder):
        self.server_url, self.subject, self.encoder = server_url, subject, encoder

    def to_tuple(self):
        return ("nats", self.server_url, self.subject, self.encoder)
