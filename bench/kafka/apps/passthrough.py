"""Kafka passthrough as a Roo app: every message of --in-topic copied to --out-topic with its key.

    roo run [--workers 2] [--checkpoint-dir D --checkpoint-interval 1s] bench/kafka/apps/passthrough.py \
        --brokers 127.0.0.1:9092 --in-topic in --out-topic out --group g

The decoder takes Roo's (value, key) form, so the key reaches the encoder, which returns (value, key).
The same shape as bench/workloads/passthrough (decode -> stateless identity -> encode).
"""
import wallaroo

import kafka_args


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(value, key):
    return (value, key)


@wallaroo.computation(name="identity")
def identity(message):
    return message


@wallaroo.encoder
def encode(message):
    return message  # (value, key)


def application_setup(args):
    opts = kafka_args.parse(args)
    source = wallaroo.KafkaSourceConfig(opts.in_topic, opts.broker_list, "Warn", decode, group=opts.group,
                                        start="earliest")
    sink = wallaroo.KafkaSinkConfig(opts.out_topic, opts.broker_list, "Warn", 5, 1000000, encode)
    pipeline = wallaroo.source("in", source).to(identity).to_sink(sink)
    return wallaroo.build_application("Kafka passthrough", pipeline)
