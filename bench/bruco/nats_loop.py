"""The NATS baseline: a plain nats-py client loop -- subscribe to the in subject, call the benchmark's handler on
each message, publish its output to the out subject (bench/bruco/run.py --nats).

    bench/out/venv-nats/bin/python bench/bruco/nats_loop.py --url nats://127.0.0.1:P --in S --out S
    (PYTHONPATH=python)

Each message goes through wallaroo._bruco.Handler, as in Roo's Bruco mode, so only the NATS side differs."""
import argparse
import asyncio
import signal

import nats

from wallaroo import _bruco


async def run(opts):
    handler = _bruco.Handler(opts.function, "handler", "initializer")
    client = await nats.connect(opts.url, pending_size=64 * 1024 * 1024)

    async def on_message(msg):
        output = handler(msg.data)
        if output.body is not None:
            await client.publish(opts.out_subject, output.body)

    await client.subscribe(opts.in_subject, cb=on_message, pending_msgs_limit=65536)
    await client.flush()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await client.drain()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--in", dest="in_subject", required=True)
    p.add_argument("--out", dest="out_subject", required=True)
    p.add_argument("--function", required=True, help="the function's folder (handler.py)")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
