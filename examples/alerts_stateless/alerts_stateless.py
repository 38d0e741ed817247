"""Alerts (stateless): flag large transactions from a generated stream.

A GenSourceConfig generator produces a fixed, deterministic sequence of
transactions (ids 1..N, amounts from a formula) and stops by returning None. A
stateless computation emits an alert for every amount over the threshold and
returns None (drops the event) for the rest.

Flags: --transactions N (default 1000), --threshold T (default 1800).
Only the cluster initializer (or a single worker) generates.

Run (see README.md):
    roo run examples/alerts_stateless/alerts_stateless.py --out 127.0.0.1:7002
"""
import argparse

import wallaroo


def application_setup(args):
    parser = argparse.ArgumentParser(prog="alerts_stateless")
    parser.add_argument("--transactions", type=int, default=1000)
    parser.add_argument("--threshold", type=int, default=1800)
    opts, _ = parser.parse_known_args(args)
    global THRESHOLD
    THRESHOLD = opts.threshold
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]

    count = opts.transactions if generates_here(args) else 0
    transactions = wallaroo.source(
        "Transactions",
        wallaroo.GenSourceConfig("Transactions", TransactionGenerator(count)))
    pipeline = (transactions
                .to(check_transaction)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_alert)))
    return wallaroo.build_application("Alerts (stateless)", pipeline)


THRESHOLD = 1800


def generates_here(args):
    """True on the cluster initializer, or on a worker started alone (no cluster flags)."""
    argv = list(getattr(wallaroo, "_ARGS", None) or args)
    if "--cluster-initializer" in argv or "-t" in argv:
        return True
    joining = ("--control", "-c", "--join", "-j")
    return not any(a in joining or a.startswith(("--control=", "--join=")) for a in argv)


def amount_of(transaction_id):
    """The amount of transaction `transaction_id`: a fixed scramble in 1..2000."""
    return (transaction_id * 7919 + 13) % 2000 + 1


class Transaction(object):
    def __init__(self, transaction_id, amount):
        self.transaction_id = transaction_id
        self.amount = amount


class TransactionGenerator(object):
    """Transactions 1..count; None afterwards (which stops the source)."""

    def __init__(self, count):
        self.count = count

    def initial_value(self):
        if self.count < 1:
            return None
        return Transaction(1, amount_of(1))

    def apply(self, previous):
        next_id = previous.transaction_id + 1
        if next_id > self.count:
            return None
        return Transaction(next_id, amount_of(next_id))


@wallaroo.computation("check transaction")
def check_transaction(transaction):
    if transaction.amount > THRESHOLD:
        return "ALERT: transaction %d amount %d is over %d" % (
            transaction.transaction_id, transaction.amount, THRESHOLD)
    return None


@wallaroo.encoder
def encode_alert(alert):
    return (alert + "\n").encode("ascii")
