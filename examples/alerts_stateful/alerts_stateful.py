"""Alerts (stateful): per-account running balances with threshold-crossing alerts.

A GenSourceConfig generator produces a fixed, deterministic sequence of deposits
(positive) and withdrawals (negative) over five accounts and stops by returning None.
The stream is keyed by account; each account's state keeps its running balance and
emits an alert whenever the balance crosses the threshold, upwards or downwards.
Other transactions produce nothing.

Flags: --transactions N (default 1000), --threshold T (default 1000).
Only the cluster initializer (or a single worker) generates.

Run (see README.md):
    roo run examples/alerts_stateful/alerts_stateful.py --out 127.0.0.1:7002
"""
import argparse

import wallaroo

THRESHOLD = 1000
ACCOUNTS = 5


def application_setup(args):
    parser = argparse.ArgumentParser(prog="alerts_stateful")
    parser.add_argument("--transactions", type=int, default=1000)
    parser.add_argument("--threshold", type=int, default=1000)
    opts, _ = parser.parse_known_args(args)
    global THRESHOLD
    THRESHOLD = opts.threshold
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]

    count = opts.transactions if generates_here(args) else 0
    transactions = wallaroo.source(
        "Account Activity",
        wallaroo.GenSourceConfig("Account Activity", TransactionGenerator(count)))
    pipeline = (transactions
                .key_by(account_of)
                .to(update_balance)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_alert)))
    return wallaroo.build_application("Alerts (stateful)", pipeline)


def generates_here(args):
    """True on the cluster initializer, or on a worker started alone (no cluster flags)."""
    argv = list(getattr(wallaroo, "_ARGS", None) or args)
    if "--cluster-initializer" in argv or "-t" in argv:
        return True
    joining = ("--control", "-c", "--join", "-j")
    return not any(a in joining or a.startswith(("--control=", "--join=")) for a in argv)


def transaction(transaction_id):
    """Transaction `transaction_id`: (account, amount), amount in -500..500."""
    scrambled = (transaction_id * 2654435761) % 4294967296
    account = "acct-%d" % (scrambled % ACCOUNTS)
    amount = (scrambled >> 8) % 1001 - 500
    return Transaction(transaction_id, account, amount)


class Transaction(object):
    def __init__(self, transaction_id, account, amount):
        self.transaction_id = transaction_id
        self.account = account
        self.amount = amount


class TransactionGenerator(object):
    """Transactions 1..count; None afterwards (which stops the source)."""

    def __init__(self, count):
        self.count = count

    def initial_value(self):
        return transaction(1) if self.count >= 1 else None

    def apply(self, previous):
        next_id = previous.transaction_id + 1
        return transaction(next_id) if next_id <= self.count else None


class Balance(object):
    """Per-account state."""

    def __init__(self):
        self.amount = 0


@wallaroo.key_extractor
def account_of(transaction):
    return transaction.account


@wallaroo.state_computation("update balance", Balance)
def update_balance(transaction, balance):
    before = balance.amount
    balance.amount += transaction.amount
    after = balance.amount
    if before < THRESHOLD <= after:
        direction = "above"
    elif after < THRESHOLD <= before:
        direction = "below"
    else:
        return None
    return "ALERT: account %s balance %d went %s %d (transaction %d)" % (
        transaction.account, after, direction, THRESHOLD, transaction.transaction_id)


@wallaroo.encoder
def encode_alert(alert):
    return (alert + "\n").encode("ascii")
