"""The two-phase-commit payloads a worker's connector sink carries in stream-0 MESSAGEs (spec §3.3), as much of
them as a sink that commits everything needs: LIST_UNCOMMITTED (201) and its REPLY_UNCOMMITTED (202), PHASE1 (203)
and its REPLY (204), PHASE2 (205), WORKERS_LEFT (206).
"""

import struct

from ..experimental.connector_errors import ProtocolError

LIST_UNCOMMITTED, REPLY_UNCOMMITTED, PHASE1, PHASE1_REPLY, PHASE2, WORKERS_LEFT = range(201, 207)


def _short(value):
    value = value.encode("utf-8")
    return struct.pack(">H", len(value)) + value


def tag_of(payload):
    if not payload:
        raise ProtocolError("an empty stream-0 message has no two-phase-commit tag")
    return bytearray(payload[:1])[0]


def list_uncommitted_rtag(payload):
    """LIST_UNCOMMITTED: ``u8 201, u64 rtag``."""
    if len(payload) < 9:
        raise ProtocolError("LIST_UNCOMMITTED of {0} bytes is too short".format(len(payload)))
    return struct.unpack(">Q", payload[1:9])[0]


def txn_id_of(payload):
    """The ``str16 txn_id`` after the tag of PHASE1 and PHASE2."""
    if len(payload) < 3:
        raise ProtocolError("a two-phase-commit message of {0} bytes is too short".format(len(payload)))
    (n,) = struct.unpack(">H", payload[1:3])
    if len(payload) < 3 + n:
        raise ProtocolError("a transaction id of {0} bytes does not fit its message".format(n))
    return payload[3:3 + n].decode("utf-8")


def reply_uncommitted(rtag, txn_ids=()):
    """REPLY_UNCOMMITTED: ``u8 202, u64 rtag, u32 n, n × str16 txn_id``."""
    return struct.pack(">BQI", REPLY_UNCOMMITTED, rtag, len(txn_ids)) + b"".join(_short(t) for t in txn_ids)


def phase1_reply(txn_id, commit):
    """REPLY to PHASE1: ``u8 204, str16 txn_id, u8 commit``."""
    return struct.pack(">B", PHASE1_REPLY) + _short(txn_id) + struct.pack(">B", 1 if commit else 0)
