"""Test app for the launcher: every input line comes out followed by facts about the embedding.

Output per event: `<text>|<helper result>|<args>|<_ARGS>|<sys.executable>|<cwd on sys.path>\n`. The
helper module (`roo_launcher_helper`) must be importable from PYTHONPATH or the active virtualenv.
"""
import os
import sys

import roo_launcher_helper
import wallaroo

FACTS = {}


def application_setup(args):
    FACTS["args"] = " ".join(args[1:])
    FACTS["_ARGS"] = " ".join(wallaroo._ARGS[1:])
    FACTS["cwd_on_path"] = str(any(p in ("", ".", os.getcwd()) for p in sys.path))
    name, host, port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    source = wallaroo.source(name, wallaroo.TCPSourceConfig(name, host, port, decode))
    return wallaroo.build_application(
        "introspect", source.to(describe_event).to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(data):
    return data.decode()


@wallaroo.computation(name="describe event")
def describe_event(text):
    return "|".join([text, roo_launcher_helper.shout(text), FACTS["args"], FACTS["_ARGS"], sys.executable,
                     FACTS["cwd_on_path"]])


@wallaroo.encoder
def encode(line):
    return (line + "\n").encode()
