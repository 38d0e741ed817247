"""Alphabet: the user functions (decode vote -> key_by letter -> add votes -> encode).

The same functions as examples/alphabet/alphabet.py. This module is the one place the
logic lives: the Roo app (app.py), the ceiling loop, the asyncio server and the Bytewax
dataflow (bench/harness/) all call these functions.
"""
import struct


class Votes(object):
    """Some votes for one letter (an input event, or a running total on output)."""

    def __init__(self, letter, count):
        self.letter = letter
        self.count = count


class LetterTotal(object):
    """Per-letter state: every vote counted so far."""

    def __init__(self):
        self.count = 0


def decode_votes(payload):
    letter = payload[:1].decode("ascii")
    (count,) = struct.unpack(">I", payload[1:5])
    return Votes(letter, count)


def letter_of(votes):
    return votes.letter


def add_votes(votes, total):
    total.count += votes.count
    return Votes(votes.letter, total.count)


def encode_total(votes):
    return ("%s => %d\n" % (votes.letter, votes.count)).encode("ascii")


SOURCES = [("Alphabet", decode_votes)]
SPLIT = None
KEY = letter_of
STATE = LetterTotal
COMPUTE = add_votes
ENCODE = encode_total
