"""Alphabet inputs (deterministic) and the check of a run's output.

Input: N frames `u32 BE 5 | letter | u32 BE votes` (9 bytes) from
examples/alphabet/make_data.py's fixed generator. A run is valid when the output has
exactly N lines `<letter> => <running total>` and every letter's largest total is the sum
of its votes (a lost or duplicated event changes a total or the line count).
"""
import functools
import os
import re
import struct
import sys

EVENTS = 1_000_000
QUICK_EVENTS = 300_000
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@functools.lru_cache(maxsize=2)
def records(n):
    sys.path.insert(0, os.path.join(REPO, "examples", "alphabet"))
    import make_data
    return [(letter.encode("ascii"), votes) for letter, votes in make_data.records(n)]


def make(out_dir, n):
    path = os.path.join(out_dir, "alphabet_votes_%d.msg" % n)
    if not os.path.exists(path) or os.path.getsize(path) != 9 * n:
        pack = struct.Struct(">IcI").pack
        with open(path + ".tmp", "wb") as f:
            f.write(b"".join(pack(5, letter, votes) for letter, votes in records(n)))
        os.replace(path + ".tmp", path)
    return {"events": n, "outputs": n, "files": [("Alphabet", path, ["--binary", "--msg-size", "9"])]}


def payloads(n):
    pack = struct.Struct(">cI").pack
    return [(0, pack(letter, votes)) for letter, votes in records(n)]


def check(output, n):
    totals = {}
    for letter, votes in records(n):
        totals[letter] = totals.get(letter, 0) + votes
    lines = output.count(b"\n")
    if lines != n:
        return "%d lines, want %d" % (lines, n)
    got = {}
    for letter, total in re.findall(rb"^(\w) => (\d+)$", output, re.M):
        total = int(total)
        if total > got.get(letter, 0):
            got[letter] = total
    if got != totals:
        bad = sorted(k.decode() for k in set(got) | set(totals) if got.get(k) != totals.get(k))
        return "final totals differ for letters %s" % ",".join(bad)
    return None
