"""Connector source and sink configs (spec §1.3.5); ``to_tuple()`` is what ``describe`` reads."""


class SourceConnectorConfig(object):
    """A source fed by connector processes speaking the connector protocol (spec §3.3) to ``host:port``."""

    def __init__(self, name, encoder, decoder, port, cookie, max_credits, refill_credits,
                 host="127.0.0.1"):
        self._name = name
        self._encoder = encoder
        self._decoder = decoder
        self._port = port
        self._cookie = cookie
        self._max_credits = max_credits
        self._refill_credits = refill_credits
        self._host = host

    def to_tuple(self):
        return ("source_connector", self._name, self._host, str(self._port), self._encoder,
                self._decoder, self._cookie, self._max_credits, self._refill_credits)


class SinkConnectorConfig(object):
    """A sink whose output goes to a connector process listening on ``host:port``."""

    def __init__(self, name, encoder, decoder, port, cookie, host="127.0.0.1"):
        self._name = name
        self._encoder = encoder
        self._decoder = decoder
        self._port = port
        self._cookie = cookie
        self._host = host

    def to_tuple(self):
        return ("sink_connector", self._name, self._host, str(self._port), self._encoder,
                self._decoder, self._cookie)
