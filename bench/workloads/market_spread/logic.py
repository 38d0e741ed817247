"""Market spread: the user functions (two sources merged -> key_by symbol -> state per symbol).

Market data (quotes: symbol, bid, ask) and orders (id, symbol, quantity, price) arrive on
two sources, are merged and keyed by symbol. Each symbol's state keeps its last good quote.
An order priced more than MARGIN outside the symbol's last bid/ask is rejected (one output
line); a crossed quote (bid >= ask) gives an alert line and does not replace the quote.
Everything else gives no output: about one output per thousand inputs.

This module is the one place the logic lives: the Roo app (app.py), the ceiling loop, the
asyncio server and the Bytewax dataflow (bench/harness/) all call these functions.
"""
import struct

MARGIN = 50  # cents


class Quote(object):
    is_order = False

    def __init__(self, symbol, bid, ask):
        self.symbol = symbol
        self.bid = bid
        self.ask = ask


class Order(object):
    is_order = True

    def __init__(self, order_id, symbol, qty, price):
        self.order_id = order_id
        self.symbol = symbol
        self.qty = qty
        self.price = price


class Notice(object):
    """An output: a rejected order or a crossed quote."""

    def __init__(self, kind, symbol, a, b):
        self.kind = kind
        self.symbol = symbol
        self.a = a
        self.b = b


class SymbolState(object):
    """Per-symbol state: the last good quote and how many orders were seen."""

    def __init__(self):
        self.bid = 0
        self.ask = 0
        self.orders = 0


def decode_quote(payload):
    symbol, bid, ask = struct.unpack(">4sII", payload)
    return Quote(symbol.decode("ascii"), bid, ask)


def decode_order(payload):
    order_id, symbol, qty, price = struct.unpack(">I4sII", payload)
    return Order(order_id, symbol.decode("ascii"), qty, price)


def symbol_of(event):
    return event.symbol


def check_spread(event, state):
    if event.is_order:
        state.orders += 1
        if state.ask and (event.price < state.bid - MARGIN or event.price > state.ask + MARGIN):
            return Notice("REJECT", event.symbol, event.order_id, event.price)
        return None
    if event.bid >= event.ask:
        return Notice("CROSSED", event.symbol, event.bid, event.ask)
    state.bid = event.bid
    state.ask = event.ask
    return None


def encode_notice(notice):
    return ("%s %s %d %d\n" % (notice.kind, notice.symbol, notice.a, notice.b)).encode("ascii")


SOURCES = [("Market Data", decode_quote), ("Orders", decode_order)]
SPLIT = None
KEY = symbol_of
STATE = SymbolState
COMPUTE = check_spread
ENCODE = encode_notice
