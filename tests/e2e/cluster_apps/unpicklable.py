"""Cluster test app: events whose key or object cannot be pickled for another worker.

Input frames: text. A computation 'wrap' turns each text into an Item (so events travel pickled, not as raw
frames), key_by 'key_of' keys it, and a state computation 'count' counts per key. Output line per event: `<text>\n`.

--bad key: texts starting with "bad" get a key holding a lambda (str() works, so it is routed; pickle fails).
--bad object: texts starting with "bad" become an object whose __reduce__ raises.
Either way such an event cannot leave for another worker; on the worker that owns its key it runs normally.
"""
import argparse

import wallaroo

BAD = None


def application_setup(args):
    parser = argparse.ArgumentParser(prog="unpicklable")
    parser.add_argument("--bad", choices=["key", "object"], required=True)
    opts, _ = parser.parse_known_args(args)
    global BAD
    BAD = opts.bad
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    pipeline = (wallaroo.source(source_name, wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode))
                .to(wrap)
                .key_by(key_of)
                .to(count)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Unpicklable", pipeline)


class Item(object):
    def __init__(self, text):
        self.text = text


class Unpicklable(Item):
    def __reduce__(self):
        raise ValueError("Unpicklable refuses to be pickled")


class BadKey(object):
    def __init__(self, text):
        self.text = text
        self.fn = lambda: text

    def __str__(self):
        return self.text

    def __hash__(self):
        return hash(self.text)

    def __eq__(self, other):
        return isinstance(other, BadKey) and other.text == self.text


class Count(object):
    def __init__(self):
        self.n = 0


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(payload):
    return payload.decode("utf-8")


@wallaroo.computation("wrap")
def wrap(text):
    if BAD == "object" and text.startswith("bad"):
        return Unpicklable(text)
    return Item(text)


@wallaroo.key_extractor
def key_of(item):
    if BAD == "key" and item.text.startswith("bad"):
        return BadKey(item.text)
    return item.text


@wallaroo.state_computation("count", Count)
def count(item, state):
    state.n += 1
    return item


@wallaroo.encoder
def encode(item):
    return (item.text + "\n").encode("utf-8")
