"""Alphabet with a stateless step before the key_by, so events that change worker hop pickled.

The same as examples/alphabet/alphabet.py (same input, same output), except that
`checked_votes` runs first. Because a computation ran since the decoder, the event is no
longer its source frame, and a hop to another worker carries the pickled `Votes` object
instead of the raw frame (docs/running.md, "Data channels"). bench/hop/run.py compares the
two apps on one and two workers.
"""
import os
import sys

import wallaroo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "examples",
                                "alphabet"))
from alphabet import LetterTotal, Votes, add_votes, decode_votes, encode_total, letter_of  # noqa: E402


def application_setup(args):
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    votes = wallaroo.source(
        source_name,
        wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode_votes))
    pipeline = (votes
                .to(checked_votes)
                .key_by(letter_of)
                .to(add_votes)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_total)))
    return wallaroo.build_application("Alphabet (pickled hops)", pipeline)


@wallaroo.computation("checked votes")
def checked_votes(votes):
    # A stateless step: passes the event on unchanged (one Python call per event).
    return votes
