"""A TCP receiver run as its own process (so a test can kill -9 it): accepts one connection at a time on
127.0.0.1:PORT and appends every byte it reads to OUT at once (unbuffered), so OUT holds exactly what the
process read before it died. Flags: PORT OUT [--chunk N] [--delay-ms D] (sleep D ms after each read of at most
N bytes: a slow reader) [--no-read] (accept, never read). Prints "listening" to stdout once it listens.
"""
import argparse
import os
import socket
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("out")
    parser.add_argument("--chunk", type=int, default=65536)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--no-read", action="store_true")
    opts = parser.parse_args()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", opts.port))
    listener.listen(4)
    sys.stdout.write("listening\n")
    sys.stdout.flush()
    fd = os.open(opts.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    while True:
        conn, _ = listener.accept()
        if opts.no_read:
            time.sleep(3600)
        with conn:
            while True:
                data = conn.recv(opts.chunk)
                if not data:
                    break
                os.write(fd, data)
                if opts.delay_ms:
                    time.sleep(opts.delay_ms / 1000.0)


if __name__ == "__main__":
    main()
