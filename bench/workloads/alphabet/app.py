"""Alphabet as a Roo app: decode vote -> key_by letter -> state add votes -> encode `letter => total`.

    roo run bench/workloads/alphabet/app.py --in 'Alphabet'@127.0.0.1:7010 --out 127.0.0.1:7002
"""
import wallaroo

import logic


def application_setup(args):
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    decode = wallaroo.decoder(header_length=4, length_fmt=">I")(logic.decode_votes)
    key = wallaroo.key_extractor(logic.letter_of)
    add = wallaroo.state_computation("add votes", logic.LetterTotal)(logic.add_votes)
    encode = wallaroo.encoder(logic.encode_total)
    pipeline = (wallaroo.source(source_name, wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode))
                .key_by(key)
                .to(add)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Alphabet", pipeline)
