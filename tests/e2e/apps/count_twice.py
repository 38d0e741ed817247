"""Test app: one counter applied twice, to show which stages share state.

Every frame is a word; the app keys by the word and applies the same state computation twice, each time
appending the count it holds for the word ("a" -> "a 1" -> "a 1 1").
* G2 (default): `.to(count).to(count)`. Wallaroo gives every step its own state, so both counts agree:
  the third "a" comes out as "a 3 3".
* G1 (`--g1`): two `to_state_partition` stages naming the same partition "counts" share one state (the
  joining-streams pattern), so the second count continues the first: the third "a" comes out as "a 5 6".
"""
import wallaroo


class Counter(object):
    def __init__(self):
        self.n = 0


def application_setup(args):
    (name, host, port), = wallaroo.tcp_parse_input_addrs(args)
    (out_host, out_port), = wallaroo.tcp_parse_output_addrs(args)
    source = wallaroo.TCPSourceConfig(name, host, port, decode_text)
    sink = wallaroo.TCPSinkConfig(out_host, out_port, encode_line)
    if "--g1" in args:
        ab = wallaroo.ApplicationBuilder("Count twice G1")
        ab.new_pipeline(name, source)
        ab.to_state_partition(count_g1, Counter, "counts", by_word)
        ab.to_state_partition(count_g1, Counter, "counts", by_word)
        ab.to_sink(sink)
        return ab.build()
    pipeline = wallaroo.source(name, source).key_by(word).to(count).to(count).to_sink(sink)
    return wallaroo.build_application("Count twice", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_text(payload):
    return payload.decode("utf-8")


@wallaroo.key_extractor
def word(text):
    return text.split(" ")[0]


@wallaroo.partition
def by_word(text):
    return text.split(" ")[0]


@wallaroo.state_computation(name="count", state=Counter)
def count(text, counter):
    counter.n += 1
    return "%s %d" % (text, counter.n)


@wallaroo.state_computation(name="count")
def count_g1(text, counter):
    counter.n += 1
    return ("%s %d" % (text, counter.n), True)


@wallaroo.encoder
def encode_line(text):
    return (text + "\n").encode("utf-8")
