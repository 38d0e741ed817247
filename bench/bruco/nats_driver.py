"""The NATS load and check for bench/bruco/run.py --nats (run in bench/out/venv-nats): publishes N JSON messages to
the in subject with at most W unanswered at any time, and reads the out subject, where the k-th output must be
exactly the handler's answer to the k-th message (one worker keeps the order). A window well under the NATS
client's pending limit (65,536 messages) means no message is dropped as a slow consumer: NATS core cannot slow a
publisher down, so without it the figure would be the drop rate.

Before the timed part it publishes a probe message every 50 ms until one is answered (the system has subscribed),
then waits 200 ms; probe answers are left out of the check. Prints one JSON line: messages, seconds (the first
publish -> the N-th output), wrong (the first wrong output, or "").

    bench/out/venv-nats/bin/python bench/bruco/nats_driver.py --url nats://127.0.0.1:P --in S --out S -n 200000
"""
import argparse
import asyncio
import json
import time

WORKER = "initializer"


def body(i):
    return b'{"id": %d, "name": "bruco"}' % i


def expected(i):
    return b'{"id": %d, "name": "bruco", "handled_by": "%s"}' % (i, WORKER.encode())


async def run(opts):
    import nats
    client = await nats.connect(opts.url, pending_size=64 * 1024 * 1024)
    probe, probe_answer = body(-1), expected(-1)
    state = {"received": 0, "wrong": "", "probed": asyncio.Event()}
    window = asyncio.Semaphore(opts.window)
    done = asyncio.Event()

    async def on_output(msg):
        if msg.data == probe_answer:
            state["probed"].set()
            return
        k = state["received"]
        if not state["wrong"] and msg.data != expected(k):
            state["wrong"] = "output %d is %r, want %r" % (k, msg.data[:200], expected(k))
        state["received"] = k + 1
        window.release()
        if k + 1 == opts.n:
            done.set()

    await client.subscribe(opts.out_subject, cb=on_output, pending_msgs_limit=1 << 20)
    await client.flush()
    deadline = time.monotonic() + 60
    while not state["probed"].is_set():
        if time.monotonic() > deadline:
            raise SystemExit("nats_driver: no answer to the probe on %s within 60 s" % opts.out_subject)
        await client.publish(opts.in_subject, probe)
        await client.flush()
        try:
            await asyncio.wait_for(state["probed"].wait(), 0.05)
        except asyncio.TimeoutError:
            pass
    await asyncio.sleep(0.2)
    began = time.monotonic()
    for i in range(opts.n):
        await window.acquire()
        await client.publish(opts.in_subject, body(i))
    await client.flush()
    try:
        await asyncio.wait_for(done.wait(), opts.timeout)
    except asyncio.TimeoutError:
        state["wrong"] = state["wrong"] or "%d of %d outputs within %d s" % (state["received"], opts.n, opts.timeout)
    seconds = time.monotonic() - began
    await client.close()
    print(json.dumps({"messages": state["received"], "seconds": seconds, "wrong": state["wrong"]}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--in", dest="in_subject", required=True)
    p.add_argument("--out", dest="out_subject", required=True)
    p.add_argument("-n", type=int, required=True)
    p.add_argument("--window", type=int, default=10000)
    p.add_argument("--timeout", type=int, default=120)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
