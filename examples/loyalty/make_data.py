"""Writes customers.txt, transactions.txt and expected.txt for loyalty.py.

customers.txt registers customers 1..20; transactions.txt holds 400 purchases by
customers 1..24 (21..24 never register). expected.txt, computed here independently,
lists one reward line per registered customer whose purchases reach the threshold,
sorted by customer id (the application's output order depends on interleaving).
"""
import argparse
import os

NAMES = ["Ada", "Bruno", "Chiara", "Dmitri", "Esther", "Farid", "Greta", "Hiro", "Ines", "Jonas",
         "Kemi", "Luca", "Mirela", "Nils", "Oona", "Pavel", "Quinn", "Rosa", "Sven", "Tamar"]
PURCHASES = 400
THRESHOLD = 1000


def purchases():
    seed = 424242
    for _ in range(PURCHASES):
        seed = (seed * 1103515245 + 12345) % (1 << 31)
        customer_id = 1 + (seed >> 7) % 24
        amount = 5 + (seed >> 3) % (20 * customer_id % 150 + 20)
        yield customer_id, amount


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", default=here)
    opts = parser.parse_args()
    spent = {}
    with open(os.path.join(opts.out_dir, "customers.txt"), "w") as customers:
        for customer_id, name in enumerate(NAMES, start=1):
            customers.write("%d,%s\n" % (customer_id, name))
    with open(os.path.join(opts.out_dir, "transactions.txt"), "w") as transactions:
        for customer_id, amount in purchases():
            transactions.write("%d,%d\n" % (customer_id, amount))
            spent[customer_id] = spent.get(customer_id, 0) + amount
    with open(os.path.join(opts.out_dir, "expected.txt"), "w") as expected:
        for customer_id, name in enumerate(NAMES, start=1):
            if spent.get(customer_id, 0) >= THRESHOLD:
                expected.write("reward: %s (customer %d)\n" % (name, customer_id))


if __name__ == "__main__":
    main()
