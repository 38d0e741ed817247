"""Test app whose pipeline has no sink: build_application raises WallarooParameterError."""
import wallaroo


def application_setup(args):
    name, host, port = wallaroo.tcp_parse_input_addrs(args)[0]
    pipeline = wallaroo.source(name, wallaroo.TCPSourceConfig(name, host, port, decode)).to(same)
    return wallaroo.build_application("No Sink", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(payload):
    return payload


@wallaroo.computation("same")
def same(data):
    return data
