"""Word count as a Roo app: lines -> computation_multi split -> key_by word -> state count.

    roo run bench/workloads/word_count/app.py --in 'Split and Count'@127.0.0.1:7010 --out 127.0.0.1:7002
"""
import wallaroo

import logic


def application_setup(args):
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    decode = wallaroo.decoder(header_length=4, length_fmt=">I")(logic.decode_line)
    split = wallaroo.computation_multi("split into words")(logic.split_words)
    key = wallaroo.key_extractor(logic.the_word)
    count = wallaroo.state_computation("count word", logic.Tally)(logic.count_word)
    encode = wallaroo.encoder(logic.encode_count)
    pipeline = (wallaroo.source(source_name, wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode))
                .to(split)
                .key_by(key)
                .to(count)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Word Count", pipeline)
