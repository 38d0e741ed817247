"""Loyalty: join customer registrations with purchases (Wallaroo G1 ApplicationBuilder API).

Two TCP sources feed two pipelines that share one partitioned state, "customer
accounts", through the same state name and the same partition function (by customer
id):

* "Customers": frames of text `<customer id>,<name>` register a customer.
* "Transactions": frames of text `<customer id>,<amount>` record a purchase.

A customer earns one reward when they are registered and their purchases add up to
at least the threshold (default 1000, flag --threshold). Whichever event completes
the condition emits `reward: <name> (customer <id>)\n`, exactly once per customer,
so the output does not depend on how the two streams interleave. Purchases by
unregistered customers accumulate but never earn a reward. G1 state computations
return `(output, persist)`.

Run (see README.md):
    roo run examples/loyalty/loyalty.py \\
        --in 'Customers'@127.0.0.1:7010,'Transactions'@127.0.0.1:7011 --out 127.0.0.1:7002
"""
import argparse

import wallaroo

THRESHOLD = 1000


def application_setup(args):
    parser = argparse.ArgumentParser(prog="loyalty")
    parser.add_argument("--threshold", type=int, default=1000)
    opts, _ = parser.parse_known_args(args)
    global THRESHOLD
    THRESHOLD = opts.threshold

    inputs = dict((name, (host, port)) for name, host, port in wallaroo.tcp_parse_input_addrs(args))
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    customers_host, customers_port = inputs["Customers"]
    purchases_host, purchases_port = inputs["Transactions"]

    ab = wallaroo.ApplicationBuilder("Loyalty")
    ab.new_pipeline("Customers",
                    wallaroo.TCPSourceConfig(customers_host, customers_port, decode_customer))
    ab.to_state_partition(register_customer, CustomerAccount, "customer accounts", by_customer)
    ab.to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_reward))
    ab.done()
    ab.new_pipeline("Transactions",
                    wallaroo.TCPSourceConfig(purchases_host, purchases_port, decode_purchase))
    ab.to_state_partition(record_purchase, CustomerAccount, "customer accounts", by_customer)
    ab.to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_reward))
    return ab.build()


class Customer(object):
    def __init__(self, customer_id, name):
        self.customer_id = customer_id
        self.name = name


class Purchase(object):
    def __init__(self, customer_id, amount):
        self.customer_id = customer_id
        self.amount = amount


class Reward(object):
    def __init__(self, customer_id, name):
        self.customer_id = customer_id
        self.name = name


class CustomerAccount(object):
    """Shared state, one per customer id, written by both pipelines."""

    def __init__(self):
        self.name = None
        self.spent = 0
        self.rewarded = False


def reward_if_earned(customer_id, account):
    if account.rewarded or account.name is None or account.spent < THRESHOLD:
        return None
    account.rewarded = True
    return Reward(customer_id, account.name)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_customer(payload):
    customer_id, name = payload.decode("utf-8").split(",", 1)
    return Customer(int(customer_id), name)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_purchase(payload):
    customer_id, amount = payload.decode("ascii").split(",")
    return Purchase(int(customer_id), int(amount))


@wallaroo.partition
def by_customer(event):
    return str(event.customer_id)


@wallaroo.state_computation("register customer")
def register_customer(customer, account):
    account.name = customer.name
    return (reward_if_earned(customer.customer_id, account), True)


@wallaroo.state_computation("record purchase")
def record_purchase(purchase, account):
    account.spent += purchase.amount
    return (reward_if_earned(purchase.customer_id, account), True)


@wallaroo.encoder
def encode_reward(reward):
    return ("reward: %s (customer %d)\n" % (reward.name, reward.customer_id)).encode("utf-8")
