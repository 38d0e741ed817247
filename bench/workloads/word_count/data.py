"""Word count inputs (deterministic) and the check of a run's output.

Input: N text lines of 2 to 8 words, drawn with a fixed seed from a 2,000-word synthetic
vocabulary with a Zipf-like skew (word k has weight 1/k), some capitalised and some with
punctuation, sent by `roo send` as one frame per line. Each event is one line; each line
gives one output per word. A run is valid when the output has exactly as many lines as
there are words and every word's largest count is its number of occurrences (computed
here, independently of the app's split).
"""
import itertools
import functools
import os
import random
import re

EVENTS = 200_000
QUICK_EVENTS = 60_000
SYLLABLES = ["ka", "lo", "mi", "ra", "tu", "sen", "vo", "pe", "dri", "an", "el", "os", "qua", "zi", "bel", "nor"]


def vocabulary():
    rng = random.Random(7)
    words = set()
    while len(words) < 2000:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


@functools.lru_cache(maxsize=2)
def lines(n):
    """[(line text, [words as the check counts them])]."""
    rng = random.Random(20240611)
    vocab = vocabulary()
    cum = list(itertools.accumulate(1.0 / (k + 1) for k in range(len(vocab))))
    result = []
    for _ in range(n):
        words = rng.choices(vocab, cum_weights=cum, k=rng.randint(2, 8))
        shown = []
        for w in words:
            r = rng.random()
            if r < 0.1:
                shown.append(w.capitalize())
            elif r < 0.2:
                shown.append(w + rng.choice(",.;!?"))
            else:
                shown.append(w)
        result.append((" ".join(shown), words))
    return result


def make(out_dir, n):
    path = os.path.join(out_dir, "word_count_%d.txt" % n)
    if not os.path.exists(path):
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write("".join(text + "\n" for text, _ in lines(n)))
        os.replace(path + ".tmp", path)
    return {"events": n, "outputs": sum(len(words) for _, words in lines(n)),
            "files": [("Split and Count", path, [])]}


def payloads(n):
    return [(0, text.encode("utf-8")) for text, _ in lines(n)]


def check(output, n):
    counts = {}
    for _, words in lines(n):
        for w in words:
            counts[w] = counts.get(w, 0) + 1
    want_lines = sum(counts.values())
    got_lines = output.count(b"\n")
    if got_lines != want_lines:
        return "%d lines, want %d (one per word)" % (got_lines, want_lines)
    got = {}
    for word, count in re.findall(rb"^(\S+) => (\d+)$", output, re.M):
        count = int(count)
        if count > got.get(word, 0):
            got[word] = count
    want = {k.encode(): v for k, v in counts.items()}
    if got != want:
        bad = [k for k in set(got) | set(want) if got.get(k) != want.get(k)]
        return "%d words have a wrong final count (e.g. %r)" % (len(bad), sorted(bad)[:3])
    return None
