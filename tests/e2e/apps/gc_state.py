"""Test app: answers every frame with the state of Python's cyclic collector as the worker sees it:
`frozen=<objects frozen> enabled=<True|False>`.
"""
import gc

import wallaroo


def application_setup(args):
    name, host, port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    pipeline = (wallaroo.source(name, wallaroo.TCPSourceConfig(name, host, port, decode))
                .to(report)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("GcState", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(payload):
    return payload


@wallaroo.computation("report")
def report(_payload):
    return "frozen=%d enabled=%s" % (gc.get_freeze_count(), gc.isenabled())


@wallaroo.encoder
def encode(text):
    return (text + "\n").encode("ascii")
