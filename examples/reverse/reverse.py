"""Reverse: a stateless pipeline that reverses every line of text.

Each input frame is `u32 BE length | UTF-8 text`; the output is the text reversed
(by code point) followed by a newline.

Run (see README.md):
    roo run examples/reverse/reverse.py --in 'Reverse'@127.0.0.1:7010 --out 127.0.0.1:7002
"""
import wallaroo


def application_setup(args):
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]

    lines = wallaroo.source(
        source_name,
        wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode_text))
    pipeline = (lines
                .to(reverse_text)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_line)))
    return wallaroo.build_application("Reverse", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_text(payload):
    return payload.decode("utf-8")


@wallaroo.computation("reverse")
def reverse_text(text):
    return text[::-1]


@wallaroo.encoder
def encode_line(text):
    return (text + "\n").encode("utf-8")
