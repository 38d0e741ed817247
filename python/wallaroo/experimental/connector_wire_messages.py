"""The connector protocol's frames (spec §3.3): ``u32 BE length | u8 type | body``, big-endian integers,
short strings as ``u16 length | bytes``.

``Frame.encode(msg)`` gives the whole frame (length included); ``Frame.decode(bs)`` reads one frame *without*
its length prefix. Every message class has ``encode()`` (its body) and ``decode(body)``.
"""

import struct

from .connector_errors import ProtocolError

HELLO, OK, ERROR, NOTIFY, NOTIFY_ACK, MESSAGE, ACK, RESTART, EOS_MESSAGE = range(9)


class _Reader(object):
    def __init__(self, body, what):
        self.body, self.at, self.what = body, 0, what

    def take(self, n):
        if self.at + n > len(self.body):
            raise ProtocolError("{0}: frame body of {1} bytes is too short".format(self.what, len(self.body)))
        piece = self.body[self.at:self.at + n]
        self.at += n
        return piece

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def short_bytes(self):
        (n,) = self.unpack(">H")
        return self.take(n)

    def short_str(self):
        return self.short_bytes().decode("utf-8")

    def rest(self):
        piece = self.body[self.at:]
        self.at = len(self.body)
        return piece


def _short(value):
    if isinstance(value, str):
        value = value.encode("utf-8")
    if len(value) > 0xFFFF:
        raise ProtocolError("a short string holds at most 65535 bytes, got {0}".format(len(value)))
    return struct.pack(">H", len(value)) + value


class _Message(object):
    _fields = ()

    def __init__(self, *values):
        for field, value in zip(self._fields, values):
            setattr(self, field, value)

    def __eq__(self, other):
        return type(self) is type(other) and all(
            getattr(self, f) == getattr(other, f) for f in self._fields)

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return "{0}({1})".format(type(self).__name__, ", ".join(
            "{0}={1!r}".format(f, getattr(self, f)) for f in self._fields))

    __str__ = __repr__


class Hello(_Message):
    """HELLO: ``str16 version, str16 cookie, str16 program_name, str16 instance_name`` (connector → worker)."""
    TYPE = HELLO
    _fields = ("version", "cookie", "program_name", "instance_name")

    def __init__(self, version, cookie, program_name, instance_name):
        _Message.__init__(self, version, cookie, program_name, instance_name)

    def encode(self):
        return b"".join(_short(getattr(self, f)) for f in self._fields)

    @staticmethod
    def decode(body):
        r = _Reader(body, "HELLO")
        return Hello(r.short_str(), r.short_str(), r.short_str(), r.short_str())


class Ok(_Message):
    """OK: ``u32 initial_credits`` (worker → connector)."""
    TYPE = OK
    _fields = ("initial_credits",)

    def __init__(self, initial_credits):
        _Message.__init__(self, initial_credits)

    def encode(self):
        return struct.pack(">I", self.initial_credits)

    @staticmethod
    def decode(body):
        return Ok(*_Reader(body, "OK").unpack(">I"))


class Error(_Message):
    """ERROR: ``str16 message``; the sender closes the connection."""
    TYPE = ERROR
    _fields = ("message",)

    def __init__(self, message):
        _Message.__init__(self, message)

    def encode(self):
        return _short(self.message)

    @staticmethod
    def decode(body):
        return Error(_Reader(body, "ERROR").short_str())


class Notify(_Message):
    """NOTIFY: ``u64 stream_id, str16 stream_name, u64 point_of_ref`` (asks to open a stream; 1 credit)."""
    TYPE = NOTIFY
    _fields = ("stream_id", "stream_name", "point_of_ref")

    def __init__(self, stream_id, stream_name, point_of_ref=0):
        _Message.__init__(self, stream_id, stream_name, point_of_ref)

    def encode(self):
        return (struct.pack(">Q", self.stream_id) + _short(self.stream_name) +
                struct.pack(">Q", self.point_of_ref))

    @staticmethod
    def decode(body):
        r = _Reader(body, "NOTIFY")
        (stream_id,) = r.unpack(">Q")
        name = r.short_str()
        (point_of_ref,) = r.unpack(">Q")
        return Notify(stream_id, name, point_of_ref)


class NotifyAck(_Message):
    """NOTIFY_ACK: ``u8 success, u64 stream_id, u64 point_of_ref`` (where to resume the stream)."""
    TYPE = NOTIFY_ACK
    _fields = ("notify_success", "stream_id", "point_of_ref")

    def __init__(self, notify_success, stream_id, point_of_ref):
        _Message.__init__(self, bool(notify_success), stream_id, point_of_ref)

    def encode(self):
        return struct.pack(">BQQ", 1 if self.notify_success else 0, self.stream_id, self.point_of_ref)

    @staticmethod
    def decode(body):
        return NotifyAck(*_Reader(body, "NOTIFY_ACK").unpack(">BQQ"))


class Message(_Message):
    """MESSAGE: ``u64 stream_id, u64 message_id, i64 event_time, u16 key_len, key, payload`` (1 credit)."""
    TYPE = MESSAGE
    _fields = ("stream_id", "message_id", "event_time", "key", "message")

    def __init__(self, stream_id, message_id, event_time=0, key=None, message=b""):
        if key is not None and not isinstance(key, bytes):
            raise TypeError("Message key must be bytes or None, got {0!r}".format(key))
        if message is not None and not isinstance(message, bytes):
            raise TypeError("Message payload must be bytes or None, got {0!r}".format(message))
        _Message.__init__(self, stream_id, message_id, event_time, key, message)

    def encode(self):
        return (struct.pack(">QQq", self.stream_id, self.message_id, self.event_time) +
                _short(self.key or b"") + (self.message or b""))

    @staticmethod
    def decode(body):
        r = _Reader(body, "MESSAGE")
        stream_id, message_id, event_time = r.unpack(">QQq")
        key = r.short_bytes()
        return Message(stream_id, message_id, event_time, key or None, r.rest())


class Ack(_Message):
    """ACK: ``u32 credits, u32 n, n × (u64 stream_id, u64 point_of_ref)`` (worker → connector)."""
    TYPE = ACK
    _fields = ("credits", "acks")

    def __init__(self, credits, acks=()):
        _Message.__init__(self, credits, [tuple(a) for a in acks])

    def encode(self):
        return struct.pack(">II", self.credits, len(self.acks)) + b"".join(
            struct.pack(">QQ", stream_id, por) for stream_id, por in self.acks)

    @staticmethod
    def decode(body):
        r = _Reader(body, "ACK")
        credits, n = r.unpack(">II")
        return Ack(credits, [r.unpack(">QQ") for _ in range(n)])


class Restart(_Message):
    """RESTART: ``u32 addr_len, addr`` ("host:port" to reconnect to, or empty for the same address)."""
    TYPE = RESTART
    _fields = ("address",)

    def __init__(self, address=""):
        _Message.__init__(self, address)

    def encode(self):
        address = self.address.encode("utf-8")
        return struct.pack(">I", len(address)) + address

    @staticmethod
    def decode(body):
        r = _Reader(body, "RESTART")
        (n,) = r.unpack(">I")
        return Restart(r.take(n).decode("utf-8"))


class EosMessage(_Message):
    """EOS_MESSAGE: ``u64 stream_id`` (the stream ends; connector → worker)."""
    TYPE = EOS_MESSAGE
    _fields = ("stream_id",)

    def __init__(self, stream_id):
        _Message.__init__(self, stream_id)

    def encode(self):
        return struct.pack(">Q", self.stream_id)

    @staticmethod
    def decode(body):
        return EosMessage(*_Reader(body, "EOS_MESSAGE").unpack(">Q"))


_BY_TYPE = dict((cls.TYPE, cls) for cls in (Hello, Ok, Error, Notify, NotifyAck, Message, Ack, Restart,
                                            EosMessage))


class Frame(object):
    """Whole frames: ``encode(msg)`` → ``u32 length | u8 type | body``; ``decode(bs)`` reads ``type | body``."""

    @staticmethod
    def encode(msg):
        body = struct.pack(">B", msg.TYPE) + msg.encode()
        return struct.pack(">I", len(body)) + body

    @staticmethod
    def decode(bs):
        if not bs:
            raise ProtocolError("an empty frame has no message type")
        cls = _BY_TYPE.get(bytearray(bs[:1])[0])
        if cls is None:
            raise ProtocolError("unknown connector message type {0}".format(bytearray(bs[:1])[0]))
        return cls.decode(bytes(bs[1:]))
