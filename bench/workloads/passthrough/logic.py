"""Passthrough: the user functions (decode -> stateless identity -> encode).

Input payload: a 10-digit ASCII sequence number. Output: the same digits and a newline.
This module is the one place the logic lives: the Roo app (app.py), the ceiling loop, the
asyncio server and the Bytewax dataflow (bench/harness/) all call these functions.
"""


def decode(payload):
    return payload


def identity(data):
    return data


def encode(data):
    return data + b"\n"


# The shape every harness builds the same dataflow from.
SOURCES = [("Passthrough", decode)]
SPLIT = None       # a computation_multi before the key, or None
KEY = None         # key extractor, or None for a stateless step
STATE = None       # state class (called with no arguments), or None
COMPUTE = identity  # f(event) when stateless, f(event, state) when keyed; None filters
ENCODE = encode
