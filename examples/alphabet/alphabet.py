"""Alphabet: a running vote total per letter.

Each input frame is `u32 BE length (5) | 1 letter byte | u32 BE vote count`. The
votes are keyed by their letter; a state object per letter adds them up, and every
input produces one output line `<letter> => <running total>\n`.

Run (see README.md):
    roo run examples/alphabet/alphabet.py --in 'Alphabet'@127.0.0.1:7010 --out 127.0.0.1:7002
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
    """Some votes for one letter (an input event, or a running total on output)."""

    def __init__(self, letter, count):
        self.letter = letter
        self.count = count


class LetterTotal(object):
    """Per-letter state: every vote counted so far."""

    def __init__(self):
        self.count = 0


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_votes(payload):
    letter = payload[:1].decode("ascii")
    (count,) = struct.unpack(">I", payload[1:5])
    return Votes(letter, count)


@wallaroo.key_extractor
def letter_of(votes):
    return votes.letter


@wallaroo.state_computation("add votes", LetterTotal)
def add_votes(votes, total):
    total.count += votes.count
    # Emit a fresh object: the state keeps changing after this output leaves.
    return Votes(votes.letter, total.count)


@wallaroo.encoder
def encode_total(votes):
    return ("%s => %d\n" % (votes.letter, votes.count)).encode("ascii")
