"""Test app for the dashboard (test_dashboard.py): one pipeline of known steps, stateless so that each worker of a
cluster works alone on what its own source reads (a killed worker takes no other worker's events with it).

Every frame is a decimal number n; the pipeline doubles it, then writes it as a line: "7" -> "14\n".
Steps, in order: decoder of source 'Numbers', computation 'double', computation 'as text', encoder of sink 'sink 0'.
"""
import wallaroo


def application_setup(args):
    (name, host, port), = wallaroo.tcp_parse_input_addrs(args)
    (out_host, out_port), = wallaroo.tcp_parse_output_addrs(args)
    pipeline = (wallaroo.source(name, wallaroo.TCPSourceConfig(name, host, port, decode_number))
                .to(double).to(as_text)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_line)))
    return wallaroo.build_application("Dashboard steps", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_number(payload):
    return int(payload)


@wallaroo.computation(name="double")
def double(n):
    return n * 2


@wallaroo.computation(name="as text")
def as_text(n):
    return str(n)


@wallaroo.encoder
def encode_line(text):
    return (text + "\n").encode("utf-8")
