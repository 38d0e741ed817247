"""Market spread inputs (deterministic) and the check of a run's output.

N events: N/2 quotes (`u32 BE 12 | symbol 4s | bid u32 | ask u32`, 16-byte frames) and N/2
orders (`u32 BE 16 | id u32 | symbol 4s | qty u32 | price u32`, 20-byte frames) over 500
symbols, fixed seed. Symbol s has a reference price P; every good quote has bid in
[P-20, P-1] and ask in [P+1, P+20], so whether an order is rejected does not depend on which
quote it meets, i.e. not on how the two sources interleave: a normal order is priced within
P +/- 51 (inside every quote's band) and about one in a thousand is priced P +/- 200
(outside every band). About one quote in a thousand is crossed (an alert). The quotes file
starts with one quote per symbol (sent first, as a warm-up the harness waits for: see
make) and rejected orders come only after the first 20 % of orders. The last quote and the last order
each give an output, so the last output marks the end of both streams on one worker.
A run is valid when its output lines are exactly the expected lines (as a multiset).
"""
import functools
import os
import random
import struct

EVENTS = 1_000_000
QUICK_EVENTS = 300_000
SYMBOLS = 500


def symbol(s):
    return b"S%03d" % s


def price(s):
    return 1000 + 37 * s


@functools.lru_cache(maxsize=2)
def streams(n):
    """(quote payloads, order payloads, expected output lines)."""
    rng = random.Random(9_1998)
    quotes, orders, expected = [], [], []
    n_quotes, n_orders = n // 2, n - n // 2
    qpack, opack = struct.Struct(">4sII").pack, struct.Struct(">I4sII").pack
    for i in range(n_quotes):
        s = i if i < SYMBOLS else rng.randrange(SYMBOLS)
        p = price(s)
        if (i >= SYMBOLS and rng.random() < 0.001) or i == n_quotes - 1:
            bid, ask = p + 5, p - 5
            expected.append(b"CROSSED %s %d %d" % (symbol(s), bid, ask))
        else:
            bid, ask = p - rng.randint(1, 20), p + rng.randint(1, 20)
        quotes.append(qpack(symbol(s), bid, ask))
    for i in range(n_orders):
        s = rng.randrange(SYMBOLS)
        p = price(s)
        order_id = i + 1
        if (i >= n_orders // 5 and rng.random() < 0.00125) or i == n_orders - 1:
            px = p + rng.choice((-200, 200))
            expected.append(b"REJECT %s %d %d" % (symbol(s), order_id, px))
        else:
            px = p + rng.randint(-51, 51)
        orders.append(opack(order_id, symbol(s), rng.randint(1, 1000), px))
    return quotes, orders, sorted(expected)


WARMUP_SENTINELS = (b"W000", b"W001")  # crossed quotes closing the warm-up file: one per worker (round robin)


def sentinel_lines():
    return [b"CROSSED %s 10 5" % s for s in WARMUP_SENTINELS]


def make(out_dir, n):
    """The warm-up file (one quote per symbol + the sentinels) and the two main files.

    The harness sends the warm-up file first and waits for the sentinels' output lines, so
    every symbol has a quote before any order is sent, whatever the server's fairness
    between its two connections (an order meeting no quote is accepted, which would make
    the expected output depend on how the sources interleave)."""
    quotes, orders, expected = streams(n)
    qpack = struct.Struct(">4sII").pack
    warm = quotes[:SYMBOLS] + [qpack(s, 10, 5) for s in WARMUP_SENTINELS]
    paths = []
    for name, items, size in (("warmup", warm, 16), ("quotes", quotes[SYMBOLS:], 16), ("orders", orders, 20)):
        path = os.path.join(out_dir, "market_%s_%d.msg" % (name, n))
        if not os.path.exists(path) or os.path.getsize(path) != size * len(items):
            head = (size - 4).to_bytes(4, "big")
            with open(path + ".tmp", "wb") as f:
                f.write(b"".join(head + x for x in items))
            os.replace(path + ".tmp", path)
        paths.append(path)
    return {"events": n - SYMBOLS, "outputs": len(expected),
            # (source index, file, roo send flags, output lines it gives): sent and waited for before the timing
            "warmup": [(0, paths[0], ["--binary", "--msg-size", "16"], len(WARMUP_SENTINELS), len(warm))],
            "files": [("Market Data", paths[1], ["--binary", "--msg-size", "16"]),
                      ("Orders", paths[2], ["--binary", "--msg-size", "20"])]}


def payloads(n):
    """The initial quotes, then quotes and orders alternating (the ceiling's interleaving)."""
    quotes, orders, _ = streams(n)
    result = [(0, q) for q in quotes[:SYMBOLS]]
    rest = quotes[SYMBOLS:]
    for i in range(max(len(rest), len(orders))):
        if i < len(rest):
            result.append((0, rest[i]))
        if i < len(orders):
            result.append((1, orders[i]))
    return result


def check(output, n):
    got = sorted(output.splitlines())
    want = sorted(streams(n)[2] + sentinel_lines())
    if got != want:
        missing = len([x for x in want if x not in set(got)])
        return "%d output lines, want %d (%d expected lines missing)" % (len(got), len(want), missing)
    return None
