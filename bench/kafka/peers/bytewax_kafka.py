"""The Bytewax peer on Kafka: passthrough or alphabet with Bytewax's own Kafka connectors, one worker.

Runs under bench/out/venv-bytewax/bin/python (bench/kafka/run.py pip-installs `bytewax[kafka]`, which brings
confluent-kafka from PyPI). The dataflow:

    KafkaSource(brokers, [IN], tail) -> passthrough: KafkaSinkMessage(key, value)            -> KafkaSink(OUT)
                                     -> alphabet: decode_votes(value) -> key_on(letter)
                                        -> stateful_map(add_votes) -> encode_total           -> KafkaSink(OUT)

with the alphabet workload's own functions (bench/workloads/alphabet/logic.py). Without --tail the source stops at
the end of every partition and the flow ends; with --tail (latency runs) it waits for more until SIGTERM/SIGINT.
Bytewax's KafkaSource reads its partitions by assignment (no consumer group) from the beginning; KafkaSink
produces with confluent-kafka's defaults and flushes after every batch (Bytewax's own choice).

    venv-bytewax/bin/python bench/kafka/peers/bytewax_kafka.py --workload alphabet --brokers H:P --in T --out T
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "workloads", "alphabet"))
import logic  # noqa: E402

import bytewax.operators as op  # noqa: E402
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.testing import run_main  # noqa: E402


def build_flow(workload, brokers, in_topic, out_topic, tail):
    flow = Dataflow("roo_kafka_bench")
    messages = op.input("in", flow, KafkaSource([brokers], [in_topic], tail=tail))
    if workload == "passthrough":
        out = op.map("copy", messages, lambda m: KafkaSinkMessage(m.key, m.value))
    else:
        votes = op.map("decode", messages, lambda m: logic.decode_votes(m.value))
        keyed = op.key_on("key", votes, logic.letter_of)

        def add(state, vote):
            if state is None:
                state = logic.LetterTotal()
            return state, logic.add_votes(vote, state)

        totals = op.stateful_map("add votes", keyed, add)
        out = op.map("encode", totals, lambda kv: KafkaSinkMessage(kv[0].encode("ascii"), logic.encode_total(kv[1])))
    op.output("out", out, KafkaSink([brokers], out_topic))
    return flow


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", required=True, choices=["passthrough", "alphabet"])
    p.add_argument("--brokers", required=True)
    p.add_argument("--in", dest="in_topic", required=True)
    p.add_argument("--out", dest="out_topic", required=True)
    p.add_argument("--tail", action="store_true", help="keep waiting for input (latency runs)")
    opts = p.parse_args()
    run_main(build_flow(opts.workload, opts.brokers, opts.in_topic, opts.out_topic, opts.tail))


if __name__ == "__main__":
    main()
