"""Test app: NATS subject in -> uppercase -> NATS subject out (tests/e2e/test_nats.py).

Flags: --nats URL, --in-subject S, --out-subject S, [--queue-group G], [--tag-pid] (outputs end with
"|<pid>": which worker handled the message).
"""
import argparse
import os

import wallaroo
from wallaroo._bruco_io_nats import NatsSinkConfig, NatsSourceConfig


def application_setup(args):
    parser = argparse.ArgumentParser(prog="nats_upper")
    parser.add_argument("--nats", required=True)
    parser.add_argument("--in-subject", required=True)
    parser.add_argument("--out-subject", required=True)
    parser.add_argument("--queue-group")
    parser.add_argument("--tag-pid", action="store_true")
    options = parser.parse_known_args(args)[0]
    suffix = "|%d" % os.getpid() if options.tag_pid else ""

    @wallaroo.computation(name="upper")
    def upper(text):
        return text.upper() + suffix

    source = NatsSourceConfig("Words", options.nats, options.in_subject, lambda data: data.decode("utf-8"),
                              queue_group=options.queue_group)
    sink = NatsSinkConfig(options.nats, options.out_subject, lambda text: text.encode("utf-8"))
    return wallaroo.build_application("NatsUpper", wallaroo.source("Words", source).to(upper).to_sink(sink))
