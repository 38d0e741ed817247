"""Writes votes.msg (the input) and expected.txt (the output alphabet.py must produce).

votes.msg holds COUNT fixed-size records of 9 bytes, ready for
`roo send --binary --msg-size 9`: u32 BE 5 | letter | u32 BE votes.
expected.txt is computed here independently of the application: one line per record,
in input order, with the letter's running total.
"""
import argparse
import os
import struct

COUNT = 1000
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def records(count=COUNT):
    """(letter, votes) pairs from a fixed linear congruential generator."""
    seed = 20181130
    for _ in range(count):
        seed = (seed * 1103515245 + 12345) % (1 << 31)
        letter = LETTERS[(seed >> 8) % len(LETTERS)]
        votes = 1 + (seed >> 4) % 50
        yield letter, votes


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    opts = parser.parse_args()
    totals = {}
    with open(os.path.join(opts.out_dir, "votes.msg"), "wb") as data, \
            open(os.path.join(opts.out_dir, "expected.txt"), "w") as expected:
        for letter, votes in records():
            data.write(struct.pack(">IcI", 5, letter.encode("ascii"), votes))
            totals[letter] = totals.get(letter, 0) + votes
            expected.write("%s => %d\n" % (letter, totals[letter]))


if __name__ == "__main__":
    main()
