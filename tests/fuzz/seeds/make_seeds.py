#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets (a few valid frames each) into the folders beside this script.

Run it again after changing a wire format: python3 tests/fuzz/seeds/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


# frame_parser: the stream, then (read from the end by FuzzedDataProvider) chunk lengths (u16 each), their count,
# the batch size, the max size and the framing, as indexes into the tables of frame_parser_fuzz.cpp.
def parser_input(stream, framing, max_size=4, batch=2, chunks=()):
    tail = b"".join(struct.pack("<H", c) for c in reversed(chunks))
    return stream + tail + bytes([len(chunks), batch, max_size, framing])


def frames(fmt, payloads, pad=b""):
    return b"".join(pad + struct.pack(fmt, len(p)) + p for p in payloads)


write("frame_parser", "be32", parser_input(frames(">I", [b"hello", b"world", b""]), framing=0))
write("frame_parser", "be32_split", parser_input(frames(">I", [b"a" * 40, b"bc", b"d" * 9]), 0, chunks=(3, 1, 30, 2)))
write("frame_parser", "le16", parser_input(frames("<h", [b"x" * 20, b"yz"]), framing=4, batch=1))
write("frame_parser", "padded", parser_input(frames(">I", [b"pad", b"ded"], pad=b"\0\0"), framing=9))
write("frame_parser", "too_long", parser_input(frames(">I", [b"ok"]) + struct.pack(">I", 1 << 30), framing=0))


# control frames: the body after the u32 length (type byte first), as core::BigEndianWriter writes it.
def s(text):
    text = text.encode()
    return struct.pack(">I", len(text)) + text


def endpoint(host, port):
    return s(host) + struct.pack(">H", port)


def worker(name, port, external=None):
    body = s(name) + endpoint("127.0.0.1", port) + endpoint("127.0.0.1", port + 1)
    return body + (b"\x01" + endpoint("127.0.0.1", external) if external else b"\x00")


write("control_frame", "hello", b"\x01" + worker("worker1", 7100, 7102) + s("app:9f2c"))
write("control_frame", "membership",
      b"\x03" + struct.pack(">III", 256, 1, 2) + worker("initializer", 7000) + worker("worker1", 7100, 7102))
write("control_frame", "poll_reply", b"\x09" + struct.pack(">QBI", 3, 1, 2) + struct.pack(">QQQQ", 10, 10, 0, 5))
write("control_frame", "reject", b"\x02" + s("a worker named 'worker1' is already a member"))
write("control_frame", "gather_reply", b"\x0f" + struct.pack(">QI", 1, 1) + struct.pack(">I", 0) + s('{"a":1}'))


# data frames: one batch of hops (src/runtime/hop_codec.hpp).
def span(data):
    return struct.pack(">I", len(data)) + data


time = struct.pack(">q", 1_700_000_000_000_000_000)  # each entry's event time (ns)
raw = struct.pack(">HHBB", 0, 1, 0, 0) + span(b"apple") + time + span(b"\x00\x00\x00\x05apple")
obj = struct.pack(">HHBB", 0, 2, 1, 1) + span(b"key") + time
skipped = struct.pack(">HHBB", 1, 1, 2, 2) + span(b"\x80\x04K\x07.") + time
write("data_frame", "raw", struct.pack(">I", 1) + raw + span(b""))
write("data_frame", "mixed", struct.pack(">I", 3) + raw + obj + skipped + span(span(b"one") + span(b"")))
write("data_frame", "empty", struct.pack(">I", 0) + span(b""))

# external frames: u16 message id, then the payload.
write("external_frame", "status_query", b"\x00\x09")
write("external_frame", "print", b"\x00\x01hello there")
write("external_frame", "partition_answer",
      b"\x00\x08" + b'{"state_partitions":{"counts":{"initializer":[0,2],"worker1":[1,3]}},"stateless_partitions":{}}')
write("external_frame", "entity_count", b"\x00\x16" + b' {"letters": 3, "x": [true, null, -1.5e3, "a\\u00e9\\n"]} ')
