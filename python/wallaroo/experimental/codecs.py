"""The connector codec decorators (spec §1.4): how connector sources and sinks turn bytes into objects.

* ``@stream_message_decoder``: frames are a 4-byte big-endian length, then the payload; ``f(payload)``.
* ``@stream_message_encoder``: ``encode(data, event_time=0, key=None)`` returns
  ``u32 BE total | i64 BE event_time (ms) | u32 key length | key | f(data)`` (total counts what follows it).
* ``@octet_message_decoder`` / ``@octet_message_encoder``: ``f(bytes)`` of a whole message / ``f(data)`` returns
  the bytes, no header (as ``@wallaroo.encoder``).

Each returns an instance of a generated class registered in the ``wallaroo`` module, as the other decorators do.
"""

import datetime
import struct

from .._arity import validate_arity
from ..decorators import _decode, _encode, _generate, _header_length, _payload_length
from ..errors import WallarooParameterError
from ..wrapped import ConnectorDecoder, ConnectorEncoder, OctetMessageDecoder, OctetMessageEncoder

_EPOCH = datetime.datetime(1970, 1, 1)


def event_time_ms(event_time):
    """Milliseconds since the epoch: a number as given, a naive (UTC) or aware datetime converted."""
    if isinstance(event_time, datetime.datetime):
        if event_time.tzinfo is not None:
            event_time = event_time.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return int((event_time - _EPOCH).total_seconds() * 1000)
    return int(event_time)


def _key_bytes(key):
    if key is None:
        return b""
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, bytes):
        return key
    raise WallarooParameterError("a connector message key must be str, bytes or None, got {0!r}".format(key))


def _encode_stream_message(self, data, event_time=0, key=None):
    payload = self._roo_fn(data)
    if not isinstance(payload, bytes):
        raise WallarooParameterError(
            "stream_message_encoder {0}: must return bytes, got {1}".format(
                self._roo_name, type(payload).__name__))
    key = _key_bytes(key)
    header = struct.pack(">IqI", 8 + 4 + len(key) + len(payload), event_time_ms(event_time), len(key))
    return header + key + payload


def _wrap(base, func, members):
    name = getattr(func, "__name__", repr(func))
    validate_arity(name, func, 1)
    members = dict(members)
    members["_roo_name"] = name
    return _generate(base, func, members)()


def stream_message_decoder(func):
    """``@stream_message_decoder``: ``f(payload)`` of frames with a 4-byte big-endian length header."""
    return _wrap(ConnectorDecoder, func, {
        "_roo_header_length": 4, "_roo_length_fmt": ">I", "header_length": _header_length,
        "payload_length": _payload_length, "decode": _decode})


def stream_message_encoder(func):
    """``@stream_message_encoder``: ``encode(data, event_time=0, key=None)`` frames ``f(data)`` (see above)."""
    return _wrap(ConnectorEncoder, func, {"encode": _encode_stream_message})


def octet_message_decoder(func):
    """``@octet_message_decoder``: ``f(message_bytes)`` of a whole message."""
    return _wrap(OctetMessageDecoder, func, {"decode": _decode})


def octet_message_encoder(func):
    """``@octet_message_encoder``: ``f(data)`` returns the message's bytes."""
    return _wrap(OctetMessageEncoder, func, {"encode": _encode})
