"""Word count: a running count per word over lines of text.

Each input frame is `u32 BE length | one line of UTF-8 text`. A multi-output
computation splits the line into words (lower-cased, punctuation stripped from both
ends, empty leftovers dropped); the words are keyed by themselves and a state object
per word counts them. Every word occurrence produces `<word> => <count so far>\n`.

Run (see README.md):
    roo run examples/word_count/word_count.py --in 'Split and Count'@127.0.0.1:7010 --out 127.0.0.1:7002
"""
import string

import wallaroo


def application_setup(args):
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]

    lines = wallaroo.source(
        source_name,
        wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode_line))
    pipeline = (lines
                .to(split_words)
                .key_by(the_word)
                .to(count_word)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_count)))
    return wallaroo.build_application("Word Count", pipeline)


class WordCount(object):
    """A word and how often it has been seen so far."""

    def __init__(self, word, count):
        self.word = word
        self.count = count


class Tally(object):
    """Per-word state."""

    def __init__(self):
        self.count = 0


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_line(payload):
    return payload.decode("utf-8")


@wallaroo.computation_multi("split into words")
def split_words(line):
    words = []
    for raw in line.split():
        word = raw.strip(string.punctuation).lower()
        if word:
            words.append(word)
    return words


@wallaroo.key_extractor
def the_word(word):
    return word


@wallaroo.state_computation("count word", Tally)
def count_word(word, tally):
    tally.count += 1
    return WordCount(word, tally.count)


@wallaroo.encoder
def encode_count(word_count):
    return ("%s => %d\n" % (word_count.word, word_count.count)).encode("utf-8")
