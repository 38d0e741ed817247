"""Word count: the user functions (decode line -> computation_multi split -> key_by word -> count).

The same functions as examples/word_count/word_count.py. This module is the one place the
logic lives: the Roo app (app.py), the ceiling loop, the asyncio server and the Bytewax
dataflow (bench/harness/) all call these functions.
"""
import string


class WordCount(object):
    """A word and how often it has been seen so far."""

    def __init__(self, word, count):
        self.word = word
        self.count = count


class Tally(object):
    """Per-word state."""

    def __init__(self):
        self.count = 0


def decode_line(payload):
    return payload.decode("utf-8")


def split_words(line):
    words = []
    for raw in line.split():
        word = raw.strip(string.punctuation).lower()
        if word:
            words.append(word)
    return words


def the_word(word):
    return word


def count_word(word, tally):
    tally.count += 1
    return WordCount(word, tally.count)


def encode_count(word_count):
    return ("%s => %d\n" % (word_count.word, word_count.count)).encode("utf-8")


SOURCES = [("Split and Count", decode_line)]
SPLIT = split_words
KEY = the_word
STATE = Tally
COMPUTE = count_word
ENCODE = encode_count
