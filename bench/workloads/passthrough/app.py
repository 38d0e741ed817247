"""Passthrough as a Roo app: decode -> stateless identity -> encode.

    roo run bench/workloads/passthrough/app.py --in 'Passthrough'@127.0.0.1:7010 --out 127.0.0.1:7002
"""
import wallaroo

import logic


def application_setup(args):
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    decode = wallaroo.decoder(header_length=4, length_fmt=">I")(logic.decode)
    identity = wallaroo.computation("identity")(logic.identity)
    encode = wallaroo.encoder(logic.encode)
    pipeline = (wallaroo.source(source_name, wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode))
                .to(identity)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Passthrough", pipeline)
