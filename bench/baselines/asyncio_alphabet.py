"""A careful pure-Python asyncio server doing alphabet's work: the second baseline.

It stands where `roo run examples/alphabet/alphabet.py` stands in the benchmark: it
listens on --in for `u32 BE length | payload` frames, runs the example's own user
functions (decode -> key -> per-letter state -> encode, the raw functions under the
wallaroo decorators) and writes the output lines to --out, which it connects to
(retrying every 250 ms). It is written the way toolchain notes §5 found fast:
256 KiB reads, frames parsed in place with struct.unpack_from (a partial
frame is carried over to the next read), one write() per chunk read, drain()
only when the transport's buffer is over its mark.

stderr gets the same ready line as a Roo worker; SIGTERM stops accepting, finishes
what was read, flushes, prints `stopped: N events in, M outputs written` and exits 0.

    /usr/bin/python3 bench/baselines/asyncio_alphabet.py --in 127.0.0.1:7010 --out 127.0.0.1:7002 [--app FILE]
"""
import argparse
import asyncio
import importlib
import os
import signal
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
READ_SIZE = 256 * 1024
READY = "|~~ INIT PHASE III: Application is ready to work! ~~|"


def load_app(path):
    """The app module at `path`, imported with Roo's pure-Python wallaroo package on sys.path."""
    sys.path.insert(0, os.path.join(REPO, "python"))
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    return importlib.import_module(os.path.splitext(os.path.basename(path))[0])


def split_addr(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


class Server:
    def __init__(self, alphabet, out_addr):
        self.decode = alphabet.decode_votes._roo_fn
        self.key = alphabet.letter_of._roo_fn
        self.compute = alphabet.add_votes._roo_fn
        self.encode = alphabet.encode_total._roo_fn
        self.state_cls = alphabet.LetterTotal
        self.states = {}
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

    def process(self, buf, at):
        """Runs every complete frame in buf from offset `at`; returns (output bytes, new offset)."""
        decode, key, compute, encode = self.decode, self.key, self.compute, self.encode
        states, state_cls = self.states, self.state_cls
        unpack_from = struct.unpack_from
        outs = []
        end = len(buf)
        n = 0
        while end - at >= 4:
            (length,) = unpack_from(">I", buf, at)
            if end - at - 4 < length:
                break
            payload = buf[at + 4:at + 4 + length]
            at += 4 + length
            event = decode(payload)
            k = key(event)
            state = states.get(k)
            if state is None:
                state = states[k] = state_cls()
            outs.append(encode(compute(event, state)))
            n += 1
        self.events_in += n
        self.outputs += n
        return b"".join(outs), at

    async def serve_connection(self, reader, writer):
        task = asyncio.current_task()
        self.connections.add(task)
        carry = b""
        try:
            while True:
                chunk = await reader.read(READ_SIZE)
                if not chunk:
                    break
                buf = carry + chunk if carry else chunk
                data, used = self.process(buf, 0)
                carry = buf[used:]
                if data:
                    self.out.write(data)
                    if self.out.transport.get_write_buffer_size() > 4 * READ_SIZE:
                        await self.out.drain()
        finally:
            writer.close()
            self.connections.discard(task)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", dest="in_addr", required=True, help="HOST:PORT to listen on")
    parser.add_argument("--out", dest="out_addr", required=True, help="HOST:PORT to connect to")
    parser.add_argument("--app", default=os.path.join(REPO, "examples", "alphabet", "alphabet.py"),
                        help="the app file whose decode_votes, letter_of, add_votes, encode_total and LetterTotal "
                             "are used (default: examples/alphabet/alphabet.py; the latency run passes "
                             "bench/apps/alphabet_timed.py)")
    opts = parser.parse_args()
    server = Server(load_app(opts.app), split_addr(opts.out_addr))
    await server.connect_out()
    listener = await asyncio.start_server(server.serve_connection, *split_addr(opts.in_addr))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(READY, file=sys.stderr, flush=True)
    await stop.wait()
    listener.close()
    for task in list(server.connections):
        task.cancel()
    await server.out.drain()
    server.out.close()
    print("stopped: %d events in, %d outputs written" % (server.events_in, server.outputs),
          file=sys.stderr, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
