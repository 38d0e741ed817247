"""Writes expected.txt: the alerts alerts_stateless.py must produce with its defaults.

The transaction amounts are the same formula as the application's; the filter is
computed here independently.
"""
import argparse
import os

TRANSACTIONS = 1000
THRESHOLD = 1800


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", default=here)
    opts = parser.parse_args()
    with open(os.path.join(opts.out_dir, "expected.txt"), "w") as expected:
        for tid in range(1, TRANSACTIONS + 1):
            amount = (tid * 7919 + 13) % 2000 + 1
            if amount > THRESHOLD:
                expected.write("ALERT: transaction %d amount %d is over %d\n" % (tid, amount, THRESHOLD))


if __name__ == "__main__":
    main()
