"""The careful pure-Python asyncio server, for any workload: the hand-written Python baseline.

It stands where `roo run bench/workloads/NAME/app.py` stands: it listens on each --in
(one per source of the workload, in logic.SOURCES order) for `u32 BE length | payload`
frames, runs the workload's own user functions (bench/workloads/NAME/logic.py, through
plan.runner: decode -> [split] -> [key -> state] -> compute -> encode, one state dict shared
by all sources) and writes the outputs to --out, which it connects to (retrying every
250 ms). Written the way toolchain notes §5 found fast: 256 KiB reads, frames cut from the
buffer with struct.unpack_from (a partial frame carried over to the next read), one write()
per chunk read, drain() only when the transport's buffer is over its mark.

stderr gets the same ready line as a Roo worker; SIGTERM stops accepting, finishes what was
read, flushes, prints `stopped: N events in, M outputs written` and exits 0.

    /usr/bin/python3 bench/harness/asyncio_server.py --workload alphabet \
        --in 'Alphabet'@127.0.0.1:7010 --out 127.0.0.1:7002
"""
import argparse
import asyncio
import os
import signal
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plan  # noqa: E402

READ_SIZE = 256 * 1024
READY = "|~~ INIT PHASE III: Application is ready to work! ~~|"


def split_addr(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


class Server:
    def __init__(self, logic, out_addr):
        self.runs = plan.shared_runners(logic)
        self.out_addr = out_addr
        self.out = None
        self.events_in = 0
        self.outputs = 0
        self.connections = set()

    async def connect_out(self):
        while True:
            try:
                _, self.out = await asyncio.open_connection(*self.out_addr)
                return
            except OSError:
                await asyncio.sleep(0.25)

    def serve_source(self, index):
        run = self.runs[index]
        unpack_from = struct.unpack_from

        async def serve_connection(reader, writer):
            task = asyncio.current_task()
            self.connections.add(task)
            carry = b""
            try:
                while True:
                    chunk = await reader.read(READ_SIZE)
                    if not chunk:
                        break
                    buf = carry + chunk if carry else chunk
                    payloads = []
                    append = payloads.append
                    at, end = 0, len(buf)
                    while end - at >= 4:
                        (length,) = unpack_from(">I", buf, at)
                        nxt = at + 4 + length
                        if nxt > end:
                            break
                        append(buf[at + 4:nxt])
                        at = nxt
                    carry = buf[at:]
                    outs = []
                    run(payloads, outs)
                    self.events_in += len(payloads)
                    if outs:
                        self.outputs += len(outs)
                        self.out.write(b"".join(outs))
                        if self.out.transport.get_write_buffer_size() > 4 * READ_SIZE:
                            await self.out.drain()
            finally:
                writer.close()
                self.connections.discard(task)

        return serve_connection


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", required=True, choices=plan.WORKLOADS)
    parser.add_argument("--in", dest="in_addrs", required=True,
                        help="NAME@HOST:PORT[,NAME@HOST:PORT]: one listener per source, in the app's order")
    parser.add_argument("--out", dest="out_addr", required=True, help="HOST:PORT to connect to")
    opts = parser.parse_args()
    logic, _ = plan.load(opts.workload)
    addrs = [item.rpartition("@")[2] for item in opts.in_addrs.split(",")]
    if len(addrs) != len(logic.SOURCES):
        parser.error("%s has %d sources, --in names %d" % (opts.workload, len(logic.SOURCES), len(addrs)))
    server = Server(logic, split_addr(opts.out_addr))
    await server.connect_out()
    listeners = [await asyncio.start_server(server.serve_source(i), *split_addr(a)) for i, a in enumerate(addrs)]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(READY, file=sys.stderr, flush=True)
    await stop.wait()
    for listener in listeners:
        listener.close()
    for task in list(server.connections):
        task.cancel()
    await server.out.drain()
    server.out.close()
    print("stopped: %d events in, %d outputs written" % (server.events_in, server.outputs),
          file=sys.stderr, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
