"""The fallback load generator when wrk is missing (bench/bruco/run.py --load python): C keep-alive connections in
one asyncio loop, each POSTing the body and reading the whole answer before the next, for D seconds (requests still
unanswered then are dropped; an answer slower than 10 s counts as a timeout, as with wrk --timeout 10s); prints the
same JSON line as post.lua's done(). One Python process: it saturates long before a fast server does, so its
figures are a floor for the server, not the server's limit.

    /usr/bin/python3 bench/bruco/load.py --port P --body '{"id": 42}' --connections 64 --seconds 10
"""
import argparse
import asyncio
import json
import time

MAX_HEAD = 16384
MAX_BODY = 1 << 20


TIMEOUT_US = 10_000_000


async def client(port, request, stop_at, latencies, counts):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        counts["connect_errors"] += 1
        return
    try:
        while time.monotonic() < stop_at:
            sent = time.perf_counter_ns()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_HEAD:
                raise ValueError("an answer's head is over %d bytes" % MAX_HEAD)
            lines = head.decode("latin-1").split("\r\n")
            length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")),
                          None)
            if length is None or not 0 <= length <= MAX_BODY:
                raise ValueError("an answer without a usable Content-Length: %r" % lines[0])
            await reader.readexactly(length)
            latencies.append((time.perf_counter_ns() - sent) // 1000)
            counts["timeouts"] += latencies[-1] > TIMEOUT_US
            if not lines[0].split(" ")[1].startswith("2"):
                counts["non_2xx"] += 1
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        counts["read_errors"] += 1
    finally:
        writer.close()


async def run(opts):
    body = opts.body.encode()
    request = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
               % (opts.port, len(body))) + body
    latencies, counts = [], {"non_2xx": 0, "read_errors": 0, "connect_errors": 0, "timeouts": 0}
    began = time.monotonic()
    clients = [asyncio.create_task(client(opts.port, request, began + opts.seconds, latencies, counts))
               for _ in range(opts.connections)]
    await asyncio.sleep(opts.seconds)
    duration = time.monotonic() - began
    answered = len(latencies)
    for task in clients:
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    del latencies[answered:]
    latencies.sort()

    def pick(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0

    print(json.dumps(dict(counts, requests=len(latencies), duration_us=int(duration * 1e6), write_errors=0,
                          p50_us=pick(0.5), p90_us=pick(0.9), p99_us=pick(0.99),
                          max_us=latencies[-1] if latencies else 0)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--seconds", type=float, default=10)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
