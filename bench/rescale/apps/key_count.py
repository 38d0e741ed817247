"""Rescale benchmark app: a count per key, one short output line per event.

Input frames: `u32 BE length | key` (the key: ASCII digits). The stream is keyed by the key; the state stage
"counts" keeps one int per key. Each event writes `<key> <count>\n`, so a key whose state was lost in a migration
starts again at 1, and bench/rescale/run.py sees it.
"""
import wallaroo


def application_setup(args):
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    pipeline = (wallaroo.source(source_name, wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode))
                .key_by(key_of)
                .to(count)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Rescale key count", pipeline)


class Count(object):
    def __init__(self):
        self.n = 0


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(payload):
    return payload.decode("ascii")


@wallaroo.key_extractor
def key_of(key):
    return key


@wallaroo.state_computation("counts", Count)
def count(key, state):
    state.n += 1
    return (key, state.n)


@wallaroo.encoder
def encode(pair):
    return ("%s %d\n" % pair).encode("ascii")
