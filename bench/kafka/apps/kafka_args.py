"""The command line every Kafka benchmark app takes (after APP on `roo run`'s command line):

    --brokers HOST:PORT --in-topic T --out-topic T --group G
"""
import argparse


def parse(args):
    p = argparse.ArgumentParser(prog="kafka bench app")
    p.add_argument("--brokers", required=True)
    p.add_argument("--in-topic", required=True)
    p.add_argument("--out-topic", required=True)
    p.add_argument("--group", required=True)
    opts, _ = p.parse_known_args(args[1:])
    host, port = opts.brokers.rsplit(":", 1)
    opts.broker_list = [(host, port)]
    return opts
