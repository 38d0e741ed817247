"""Bruco mode's HTTP source and its reply sink (docs/bruco.md, docs/description.md).

An HTTP source turns each POST body into one event whose bytes are ``u64 BE request
id | body``: its decoder splits the id off (``struct.unpack_from(">Q", data)``) and
carries it with the event. An HTTP reply sink answers those requests: its encoder
returns, for each output, the record ``u32 BE length | u64 BE request id | u16 BE
status | u16 BE content-type length | content type | body`` (the length counts what
follows it; ``encode_reply`` builds it)::

    wallaroo.source("web", HttpSourceConfig("web", "0.0.0.0", 8080, decode))
        .to(handle)
        .to_sink(HttpReplySinkConfig("web", encode))
"""

import struct

from .errors import WallarooParameterError

_HEADER = struct.Struct(">IQHH")


def encode_reply(request_id, body, status=200, content_type="text/plain"):
    """The reply record for ``request_id``: bytes an HttpReplySinkConfig's encoder returns."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    kind = content_type.encode("ascii")
    return _HEADER.pack(_HEADER.size - 4 + len(kind) + len(body), request_id, status,
                        len(kind)) + kind + body


def split_request(data):
    """``(request id, body)`` from an HTTP source's event bytes."""
    if len(data) < 8:
        raise WallarooParameterError(
            "an HTTP source's event has 8 bytes of request id first, got {0} bytes".format(len(data)))
    return struct.unpack_from(">Q", data)[0], bytes(data[8:])


class HttpSourceConfig(object):
    """An HTTP request/response source: each POST body is one event (see the module's doc).

    ``ignore_response``: answer ``200 ok`` at once and ignore replies;
    ``max_body_bytes``: a larger body is answered 413.
    """

    def __init__(self, name, host, port, decoder, ignore_response=False,
                 max_body_bytes=1048576):
        self._name = name
        self._host = host
        self._port = port
        self._decoder = decoder
        self._ignore_response = ignore_response
        self._max_body_bytes = max_body_bytes

    def to_tuple(self):
        return ("http", self._name, self._host, self._port, self._decoder,
                self._ignore_response, self._max_body_bytes)


class HttpReplySinkConfig(object):
    """The replies to the HTTP source named ``source_name``; ``encoder`` returns reply records."""

    def __init__(self, source_name, encoder):
        self._source_name = source_name
        self._encoder = encoder

    def to_tuple(self):
        return ("http_reply", self._source_name, self._encoder)
