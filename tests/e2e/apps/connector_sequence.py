"""Test app for connectors end to end (issue 15): a connector source into an inline sequence check into a connector
sink, as Wallaroo's effectively-once tests (aloc_sink) did.

Each input record is the text "key,seq". The stream is keyed by key; each key's state is the last sequence number
it saw, and the state computation checks that every record follows the last one of its key. It outputs "key,seq"
(one line), or "GAP key expected got" when a record does not follow (a record lost, or counted twice in state).

Flags: --source-port P  --sink-port Q  [--cookie C (cookie)]  [--max-credits N (10)]  [--refill-credits M (8)]
"""
import argparse

import wallaroo
import wallaroo.experimental as experimental


def application_setup(args):
    parser = argparse.ArgumentParser(prog="connector_sequence")
    parser.add_argument("--source-port", type=int, required=True)
    parser.add_argument("--sink-port", type=int, required=True)
    parser.add_argument("--cookie", default="cookie")
    parser.add_argument("--max-credits", type=int, default=10)
    parser.add_argument("--refill-credits", type=int, default=8)
    opts, _ = parser.parse_known_args(args)
    source = wallaroo.source("Records", experimental.SourceConnectorConfig(
        "records", encoder=encode_record, decoder=decode_record, port=opts.source_port, cookie=opts.cookie,
        max_credits=opts.max_credits, refill_credits=opts.refill_credits))
    sink = experimental.SinkConnectorConfig("checked", encoder=encode_line, decoder=decode_record,
                                            port=opts.sink_port, cookie=opts.cookie)
    return wallaroo.build_application("Connector sequence", source.key_by(key_of).to(check).to_sink(sink))


class Record(object):
    def __init__(self, key, seq):
        self.key = key
        self.seq = seq


class LastSeen(object):
    def __init__(self):
        self.seq = -1


@experimental.stream_message_decoder
def decode_record(payload):
    key, seq = payload.decode("ascii").split(",")
    return Record(key, int(seq))


@experimental.stream_message_encoder
def encode_record(record):
    return ("%s,%d" % (record.key, record.seq)).encode("ascii")


@wallaroo.key_extractor
def key_of(record):
    return record.key


@wallaroo.state_computation(name="check", state=LastSeen)
def check(record, state):
    expected = state.seq + 1
    state.seq = record.seq
    if record.seq != expected:
        return "GAP %s %d %d" % (record.key, expected, record.seq)
    return "%s,%d" % (record.key, record.seq)


@experimental.octet_message_encoder
def encode_line(line):
    return (line + "\n").encode("ascii")
