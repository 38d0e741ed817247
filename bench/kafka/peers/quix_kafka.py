"""The Quix Streams peer on Kafka: passthrough or alphabet as a Quix Streams Application, one process.

Runs under bench/out/venv-quix/bin/python (bench/kafka/run.py pip-installs `quixstreams`). The app:

    topic IN (bytes key and value) -> passthrough: sdf.to_topic(OUT)              (key and value unchanged)
                                   -> alphabet: apply(count, stateful=True) -> to_topic(OUT)

Alphabet counts per message key (the letter, as the input is keyed): Quix keeps state per Kafka key in its
RocksDB store (a fresh --state-dir per run) with a changelog topic, and `count` uses the alphabet workload's own
decode_votes and encode_total (bench/workloads/alphabet/logic.py). Consumer group --group from the earliest
offset; Quix's defaults otherwise (processing guarantee at-least-once, its producer and commit settings). Runs
until SIGTERM or SIGINT (Quix stops cleanly on both).

    venv-quix/bin/python bench/kafka/peers/quix_kafka.py --workload alphabet --brokers H:P --in T --out T \
        --group G --state-dir DIR
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "workloads", "alphabet"))
import logic  # noqa: E402

from quixstreams import Application  # noqa: E402


def count(value, state):
    vote = logic.decode_votes(value)
    total = state.get("total", 0) + vote.count
    state.set("total", total)
    return logic.encode_total(logic.Votes(vote.letter, total))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", required=True, choices=["passthrough", "alphabet"])
    p.add_argument("--brokers", required=True)
    p.add_argument("--in", dest="in_topic", required=True)
    p.add_argument("--out", dest="out_topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--state-dir", required=True)
    opts = p.parse_args()
    app = Application(broker_address=opts.brokers, consumer_group=opts.group, auto_offset_reset="earliest",
                      state_dir=opts.state_dir)
    source = app.topic(opts.in_topic, key_deserializer="bytes", value_deserializer="bytes")
    sink = app.topic(opts.out_topic, key_serializer="bytes", value_serializer="bytes")
    sdf = app.dataframe(source)
    if opts.workload == "alphabet":
        sdf = sdf.apply(count, stateful=True)
    sdf.to_topic(sink)
    app.run()


if __name__ == "__main__":
    main()
