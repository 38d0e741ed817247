"""Alphabet with a send timestamp carried through: the latency benchmark's app (bench-only).

Same logic as examples/alphabet/alphabet.py (key by letter, a running total per letter,
one output per input), but each input frame also carries the sender's CLOCK_MONOTONIC
time in nanoseconds and each output line carries it back:

    input:  u32 BE 13 | 1 letter byte | u32 BE vote count | u64 BE send_ns   (17 bytes)
    output: "<letter> => <running total> <send_ns>\\n"

The receiver computes latency = its own CLOCK_MONOTONIC at arrival - send_ns (both
processes run on the same host, so they share the clock).

Run:
    roo run bench/apps/alphabet_timed.py --in 'Alphabet'@127.0.0.1:7010 --out 127.0.0.1:7002
"""
import struct

import wallaroo


def application_setup(args):
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]

    votes = wallaroo.source(
        source_name,
        wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode_votes))
    pipeline = (votes
                .key_by(letter_of)
                .to(add_votes)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_total)))
    return wallaroo.build_application("Alphabet", pipeline)


class Votes(object):
    """Some votes for one letter, with the time they were sent."""

    def __init__(self, letter, count, sent_ns):
        self.letter = letter
        self.count = count
        self.sent_ns = sent_ns


class LetterTotal(object):
    """Per-letter state: every vote counted so far."""

    def __init__(self):
        self.count = 0


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_votes(payload):
    letter = payload[:1].decode("ascii")
    count, sent_ns = struct.unpack(">IQ", payload[1:13])
    return Votes(letter, count, sent_ns)


@wallaroo.key_extractor
def letter_of(votes):
    return votes.letter


@wallaroo.state_computation("add votes", LetterTotal)
def add_votes(votes, total):
    total.count += votes.count
    return Votes(votes.letter, total.count, votes.sent_ns)


@wallaroo.encoder
def encode_total(votes):
    return ("%s => %d %d\n" % (votes.letter, votes.count, votes.sent_ns)).encode("ascii")
