"""Loads a workload's user logic (bench/workloads/NAME/logic.py) and runs it in plain Python.

Every harness that is not Roo (the ceiling loop, the asyncio server, the Bytewax dataflow)
imports the workload's logic through load(), so the functions they call are the very
functions the Roo app (bench/workloads/NAME/app.py) wraps with the wallaroo decorators.
"""
import os
import sys

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = ("passthrough", "alphabet", "word_count", "market_spread")


def workload_dir(name):
    if name not in WORKLOADS:
        raise ValueError("unknown workload %r (one of %s)" % (name, ", ".join(WORKLOADS)))
    return os.path.join(BENCH, "workloads", name)


def load(name):
    """(logic module, data module) of workload `name` (imported as `logic` and `data`)."""
    sys.path.insert(0, workload_dir(name))
    import data
    import logic
    return logic, data


def runner(logic, decode, states):
    """run(payloads, out): decode -> [split] -> [key, state] -> compute -> encode, outputs appended to out.

    One specialised loop per dataflow shape, with everything bound to locals: the
    tightest plain-Python form of the workload (the ceiling). `states` (a dict) holds the
    per-key state objects; sources merged before the key share one."""
    split, key, state_cls, compute, encode = logic.SPLIT, logic.KEY, logic.STATE, logic.COMPUTE, logic.ENCODE
    if key is None:
        def run(payloads, out):
            append = out.append
            for payload in payloads:
                result = compute(decode(payload))
                if result is not None:
                    append(encode(result))
    elif split is None:
        def run(payloads, out):
            append = out.append
            get = states.get
            for payload in payloads:
                event = decode(payload)
                k = key(event)
                state = get(k)
                if state is None:
                    state = states[k] = state_cls()
                result = compute(event, state)
                if result is not None:
                    append(encode(result))
    else:
        def run(payloads, out):
            append = out.append
            get = states.get
            for payload in payloads:
                for event in split(decode(payload)) or ():
                    k = key(event)
                    state = get(k)
                    if state is None:
                        state = states[k] = state_cls()
                    result = compute(event, state)
                    if result is not None:
                        append(encode(result))
    return run


def shared_runners(logic):
    """One runner per source (in logic.SOURCES order), all sharing one state dict."""
    states = {}
    return [runner(logic, decode, states) for _, decode in logic.SOURCES]
