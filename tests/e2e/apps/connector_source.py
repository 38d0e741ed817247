"""Test app: a connector source (wallaroo.experimental.SourceConnectorConfig) into a TCP sink.

Flags: --connector-port P (default 7100), --cookie C (default "cookie"), --max-credits N / --refill-credits N,
--out host:port, and --mode:
`upper` (default): every message's text comes out upper-cased as a line ("" for an empty payload is never decoded);
`count`: messages are words; each is counted per word (keyed state) and "word,count" is written after every one;
`message-key`: no key_by: a state computation straight after the source counts per MESSAGE key (the routing key a
connector message carries), writing "payload,count".
"""
import argparse

import wallaroo
import wallaroo.experimental as experimental


@experimental.stream_message_decoder
def decode_text(payload):
    return payload.decode("utf-8")


@wallaroo.computation("upper")
def upper(text):
    return text.upper()


@wallaroo.key_extractor
def word_key(word):
    return word


class WordCount(object):
    def __init__(self):
        self.count = 0


@wallaroo.state_computation("count", WordCount)
def count_word(word, state):
    state.count += 1
    return "%s,%d" % (word, state.count)


@wallaroo.state_computation("count by message key", WordCount)
def count_by_message_key(payload, state):
    state.count += 1
    return "%s,%d" % (payload, state.count)


@wallaroo.encoder
def encode_line(text):
    return (text + "\n").encode("utf-8")


def application_setup(args):
    parser = argparse.ArgumentParser(prog="connector_source")
    parser.add_argument("--connector-port", type=int, default=7100)
    parser.add_argument("--cookie", default="cookie")
    parser.add_argument("--max-credits", type=int, default=10)
    parser.add_argument("--refill-credits", type=int, default=8)
    parser.add_argument("--mode", choices=["upper", "count", "message-key"], default="upper")
    options = parser.parse_known_args(args)[0]
    source = wallaroo.source("Events", experimental.SourceConnectorConfig(
        "events", encoder=None, decoder=decode_text, port=options.connector_port, cookie=options.cookie,
        max_credits=options.max_credits, refill_credits=options.refill_credits))
    (out_host, out_port), = wallaroo.tcp_parse_output_addrs(args)
    sink = wallaroo.TCPSinkConfig(out_host, out_port, encode_line)
    if options.mode == "count":
        pipeline = source.key_by(word_key).to(count_word)
    elif options.mode == "message-key":
        pipeline = source.to(count_by_message_key)
    else:
        pipeline = source.to(upper)
    return wallaroo.build_application("ConnectorSource", pipeline.to_sink(sink))
