"""Passthrough: the least user work a pipeline can have (bench/callgrind).

Each input frame's payload is one text line; the decoder returns the payload bytes
unchanged and the encoder returns them unchanged, so every event costs two trivial
Python calls and Roo's own work (framing, batching, the pipeline runner, the sink).
"""
import wallaroo


def application_setup(args):
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    lines = wallaroo.source(
        source_name,
        wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode_line))
    pipeline = lines.to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_line))
    return wallaroo.build_application("Passthrough", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_line(payload):
    return payload


@wallaroo.encoder
def encode_line(line):
    return line
