"""Passthrough inputs (deterministic) and the check of a run's output.

Input: N frames `u32 BE 10 | 10 ASCII digits` (sequence numbers 1..N), 14 bytes each.
A run is valid when the output has exactly N lines and the multiset of numbers is 1..N
(count, sum and sum of squares all match), whatever the order (2 workers interleave).
"""
import os
import re

# More events than the others: a run of 1M takes only about 0.2 s, too short to time well.
EVENTS = 3_000_000
QUICK_EVENTS = 1_000_000


def payload(i):
    return b"%010d" % i


def make(out_dir, n):
    path = os.path.join(out_dir, "passthrough_%d.msg" % n)
    if not os.path.exists(path) or os.path.getsize(path) != 14 * n:
        head = (10).to_bytes(4, "big")
        with open(path + ".tmp", "wb") as f:
            for start in range(1, n + 1, 100_000):
                f.write(b"".join(head + payload(i) for i in range(start, min(n, start + 99_999) + 1)))
        os.replace(path + ".tmp", path)
    return {
        "events": n,
        "outputs": n,
        # (source name, file, roo send format flags)
        "files": [("Passthrough", path, ["--binary", "--msg-size", "14"])],
    }


def payloads(n):
    """[(source index, payload)] in input order, for the ceiling loop."""
    return [(0, payload(i)) for i in range(1, n + 1)]


def check(output, n):
    """None when `output` (bytes) is exactly right, else what is wrong."""
    numbers = [int(x) for x in re.findall(rb"^(\d{10})$", output, re.M)]
    lines = output.count(b"\n")
    if lines != n or len(numbers) != n:
        return "%d lines (%d well-formed), want %d" % (lines, len(numbers), n)
    if sum(numbers) != n * (n + 1) // 2 or sum(x * x for x in numbers) != n * (n + 1) * (2 * n + 1) // 6:
        return "the numbers are not exactly 1..%d (sum or sum of squares differ)" % n
    return None
