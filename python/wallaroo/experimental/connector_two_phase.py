"""The two-phase-commit messages of a connector sink (spec §3.3), carried in the payload of stream-0 MESSAGEs as
``u8 tag | body``; big-endian integers, transaction ids as short strings (``u16 length | bytes``).

``encode(msg)`` gives the payload; ``decode(payload)`` reads one. The worker sends LIST_UNCOMMITTED, PHASE1 and
PHASE2; the sink answers REPLY_UNCOMMITTED and REPLY (its vote on a PHASE1).
"""

import struct

from .connector_errors import ProtocolError
from .connector_wire_messages import _Message, _Reader, _short

LIST_UNCOMMITTED, REPLY_UNCOMMITTED, PHASE1, PHASE1_REPLY, PHASE2, WORKERS_LEFT = range(201, 207)


class ListUncommitted(_Message):
    """201 LIST_UNCOMMITTED: ``u64 rtag`` (worker → sink)."""
    TAG = LIST_UNCOMMITTED
    _fields = ("rtag",)

    def __init__(self, rtag):
        _Message.__init__(self, rtag)

    def encode(self):
        return struct.pack(">BQ", self.TAG, self.rtag)

    @staticmethod
    def decode(r):
        return ListUncommitted(*r.unpack(">Q"))


class ReplyUncommitted(_Message):
    """202 REPLY_UNCOMMITTED: ``u64 rtag, u32 n, n × str16 txn_id`` (sink → worker)."""
    TAG = REPLY_UNCOMMITTED
    _fields = ("rtag", "txn_ids")

    def __init__(self, rtag, txn_ids=()):
        _Message.__init__(self, rtag, list(txn_ids))

    def encode(self):
        return struct.pack(">BQI", self.TAG, self.rtag, len(self.txn_ids)) + b"".join(_short(t) for t in self.txn_ids)

    @staticmethod
    def decode(r):
        rtag, n = r.unpack(">QI")
        return ReplyUncommitted(rtag, [r.short_str() for _ in range(n)])


class Phase1(_Message):
    """203 PHASE1: ``str16 txn_id, u32 n, n × (u64 stream_id, u64 start_offset, u64 end_offset)``."""
    TAG = PHASE1
    _fields = ("txn_id", "where")

    def __init__(self, txn_id, where=()):
        _Message.__init__(self, txn_id, [tuple(w) for w in where])

    def encode(self):
        return (struct.pack(">B", self.TAG) + _short(self.txn_id) + struct.pack(">I", len(self.where)) +
                b"".join(struct.pack(">QQQ", *w) for w in self.where))

    @staticmethod
    def decode(r):
        txn_id = r.short_str()
        (n,) = r.unpack(">I")
        return Phase1(txn_id, [r.unpack(">QQQ") for _ in range(n)])


class Phase1Reply(_Message):
    """204 REPLY: ``str16 txn_id, u8 commit`` (the sink's vote on a PHASE1)."""
    TAG = PHASE1_REPLY
    _fields = ("txn_id", "commit")

    def __init__(self, txn_id, commit):
        _Message.__init__(self, txn_id, bool(commit))

    def encode(self):
        return struct.pack(">B", self.TAG) + _short(self.txn_id) + struct.pack(">B", 1 if self.commit else 0)

    @staticmethod
    def decode(r):
        txn_id = r.short_str()
        (commit,) = r.unpack(">B")
        return Phase1Reply(txn_id, commit)


class Phase2(Phase1Reply):
    """205 PHASE2: ``str16 txn_id, u8 commit`` (commit or abort, worker → sink)."""
    TAG = PHASE2

    @staticmethod
    def decode(r):
        txn_id = r.short_str()
        (commit,) = r.unpack(">B")
        return Phase2(txn_id, commit)


class WorkersLeft(_Message):
    """206 WORKERS_LEFT: ``u64 rtag, u32 n, n × str16 worker name``."""
    TAG = WORKERS_LEFT
    _fields = ("rtag", "workers")

    def __init__(self, rtag, workers=()):
        _Message.__init__(self, rtag, list(workers))

    def encode(self):
        return struct.pack(">BQI", self.TAG, self.rtag, len(self.workers)) + b"".join(_short(w) for w in self.workers)

    @staticmethod
    def decode(r):
        rtag, n = r.unpack(">QI")
        return WorkersLeft(rtag, [r.short_str() for _ in range(n)])


_BY_TAG = dict((cls.TAG, cls) for cls in (ListUncommitted, ReplyUncommitted, Phase1, Phase1Reply, Phase2,
                                          WorkersLeft))


def encode(msg):
    """The stream-0 MESSAGE payload of a two-phase-commit message."""
    return msg.encode()


def decode(payload):
    """Reads a stream-0 MESSAGE payload; ``ProtocolError`` names what is wrong."""
    if not payload:
        raise ProtocolError("an empty stream-0 message has no two-phase-commit tag")
    tag = bytearray(payload[:1])[0]
    cls = _BY_TAG.get(tag)
    if cls is None:
        raise ProtocolError("unknown two-phase-commit tag {0}".format(tag))
    reader = _Reader(bytes(payload[1:]), cls.__name__)
    msg = cls.decode(reader)
    if reader.at != len(reader.body):
        raise ProtocolError("{0}: {1} bytes after the last field".format(cls.__name__, len(reader.body) - reader.at))
    return msg
