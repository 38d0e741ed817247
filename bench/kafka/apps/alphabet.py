"""Kafka alphabet as a Roo app: votes from --in-topic, the letter's running total per vote to --out-topic.

    roo run [--workers 2] [--checkpoint-dir D --checkpoint-interval 1s] bench/kafka/apps/alphabet.py \
        --brokers 127.0.0.1:9092 --in-topic in --out-topic out --group g

The alphabet workload's own functions (bench/workloads/alphabet/logic.py): decode_votes -> key_by letter_of ->
state add_votes -> encode_total, the output keyed by its letter (the encoder returns (value, key)).
"""
import os
import sys

import wallaroo

import kafka_args

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "workloads", "alphabet"))
import logic  # noqa: E402


@wallaroo.encoder
def encode(votes):
    return (logic.encode_total(votes), votes.letter.encode("ascii"))


def application_setup(args):
    opts = kafka_args.parse(args)
    decode = wallaroo.decoder(header_length=4, length_fmt=">I")(logic.decode_votes)
    key = wallaroo.key_extractor(logic.letter_of)
    add = wallaroo.state_computation("add votes", logic.LetterTotal)(logic.add_votes)
    source = wallaroo.KafkaSourceConfig(opts.in_topic, opts.broker_list, "Warn", decode, group=opts.group,
                                        start="earliest")
    sink = wallaroo.KafkaSinkConfig(opts.out_topic, opts.broker_list, "Warn", 5, 1000000, encode)
    pipeline = wallaroo.source("in", source).key_by(key).to(add).to_sink(sink)
    return wallaroo.build_application("Kafka alphabet", pipeline)
