"""Writes expected.txt: the alerts alerts_stateful.py must produce with its defaults.

The transactions are the same formula as the application's; the balances and the
threshold crossings are computed here independently.
"""
import argparse
import os

TRANSACTIONS = 1000
THRESHOLD = 1000


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", default=here)
    opts = parser.parse_args()
    balances = {}
    with open(os.path.join(opts.out_dir, "expected.txt"), "w") as expected:
        for tid in range(1, TRANSACTIONS + 1):
            scrambled = (tid * 2654435761) % 4294967296
            account = "acct-%d" % (scrambled % 5)
            amount = (scrambled >> 8) % 1001 - 500
            before = balances.get(account, 0)
            after = balances[account] = before + amount
            if (before < THRESHOLD) != (after < THRESHOLD):
                direction = "above" if after >= THRESHOLD else "below"
                expected.write("ALERT: account %s balance %d went %s %d (transaction %d)\n"
                               % (account, after, direction, THRESHOLD, tid))


if __name__ == "__main__":
    main()
