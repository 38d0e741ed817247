"""Writes expected.txt (the output word_count.py must produce) from words.txt.

Computed here independently of the application: words are the whitespace-separated
pieces of each line, lower-cased, with punctuation stripped from both ends; each
occurrence gives one line `<word> => <count so far>`.
"""
import argparse
import os
import string


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", default=here)
    opts = parser.parse_args()
    counts = {}
    with open(os.path.join(here, "words.txt"), encoding="utf-8") as text, \
            open(os.path.join(opts.out_dir, "expected.txt"), "w", encoding="utf-8") as expected:
        for line in text:
            for piece in line.rstrip("\n").split():
                word = piece.strip(string.punctuation).lower()
                if not word:
                    continue
                counts[word] = counts.get(word, 0) + 1
                expected.write("%s => %d\n" % (word, counts[word]))


if __name__ == "__main__":
    main()
