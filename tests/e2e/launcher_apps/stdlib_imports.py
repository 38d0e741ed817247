"""Test app: imports standard-library modules that are C extensions in lib-dynload (they need the interpreter's C
API exported by the roo executable, which links libpython statically), then echoes each line with a digest."""
import _ctypes  # noqa: F401
import array  # noqa: F401
import asyncio  # noqa: F401
import decimal
import hashlib
import json
import math
import pickle  # noqa: F401
import socket  # noqa: F401
import sqlite3
import ssl  # noqa: F401
import struct  # noqa: F401
import zlib

import wallaroo


def application_setup(args):
    name, host, port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    source = wallaroo.source(name, wallaroo.TCPSourceConfig(name, host, port, decode))
    return wallaroo.build_application(
        "stdlib", source.to(digest).to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(data):
    return data.decode()


@wallaroo.computation(name="digest")
def digest(text):
    db = sqlite3.connect(":memory:")
    (square,) = db.execute("select ? * ?", (len(text), len(text))).fetchone()
    return json.dumps([text, hashlib.sha1(text.encode()).hexdigest()[:8], str(decimal.Decimal(1) / 4),
                       zlib.crc32(text.encode()), math.isqrt(square)])


@wallaroo.encoder
def encode(line):
    return (line + "\n").encode()
