"""Alphabet between connectors (bench/connectors/run.py): a connector source -> key_by letter -> add votes -> a
connector sink, with bench/workloads/alphabet's functions.

Flags: --source-port P --sink-port Q [--credits N (1000)]
"""
import argparse
import os
import sys

import wallaroo
import wallaroo.experimental as experimental

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "workloads", "alphabet"))
import logic  # noqa: E402


def application_setup(args):
    parser = argparse.ArgumentParser(prog="alphabet_connectors")
    parser.add_argument("--source-port", type=int, required=True)
    parser.add_argument("--sink-port", type=int, required=True)
    parser.add_argument("--credits", type=int, default=1000)
    opts, _ = parser.parse_known_args(args)
    decode = experimental.stream_message_decoder(logic.decode_votes)
    encode = experimental.octet_message_encoder(logic.encode_total)
    votes = experimental.SourceConnectorConfig("votes", encoder=encode, decoder=decode, port=opts.source_port,
                                               cookie="bench", max_credits=opts.credits,
                                               refill_credits=opts.credits // 2)
    totals = experimental.SinkConnectorConfig("totals", encoder=encode, decoder=decode, port=opts.sink_port,
                                              cookie="bench")
    key = wallaroo.key_extractor(logic.letter_of)
    add = wallaroo.state_computation("add votes", logic.LetterTotal)(logic.add_votes)
    return wallaroo.build_application("Alphabet connectors",
                                      wallaroo.source("Votes", votes).key_by(key).to(add).to_sink(totals))
