"""A real NATS server per test and a tiny NATS protocol client (docs/nats.md).

Debian has no Python NATS client for /usr/bin/python3, and NATS core's text protocol is small: the client below
speaks CONNECT, SUB (with a queue group), PUB, PING/PONG and reads MSG. Payloads are bytes.

* `nats_server` fixture: `nats-server -a 127.0.0.1 -p <free port>` started for the test (`.url`, `.restart()`,
  `.stop()`, `.start()`), stopped at teardown.
* `NatsClient(url)`: `.subscribe(subject, queue_group=None)` collects messages on a thread; `.messages(subject)`,
  `.wait_for(subject, count, timeout)`; `.publish(subject, payload)`; `.flush()` (a PING answered by PONG: the server
  has everything sent before).
"""
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from loopback_ports import free_port

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsServer(object):
    def __init__(self, log_dir):
        self.port = free_port()
        self.url = "nats://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(log_dir, "nats-server.log")
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port)],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(5) == b"INFO ":
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        pytest.fail("nats-server did not start on port %d: %s" % (self.port, self.log_tail()))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def restart(self):
        self.stop()
        self.start()

    def log_tail(self):
        with open(self.log_path, "rb") as f:
            return f.read()[-2000:].decode("utf-8", "replace")


@pytest.fixture
def nats_server(tmp_path):
    server = NatsServer(str(tmp_path)).start()
    yield server
    server.stop()


class NatsClient(object):
    def __init__(self, url):
        host, port = url[len("nats://"):].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.settimeout(None)
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._by_sid = {}
        self._received = {}
        self._pongs = 0
        self._closed = False
        self._buffer = b""
        self._send(b'CONNECT {"verbose":false,"pedantic":false,"name":"roo-test"}\r\n')
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.flush()

    def _send(self, data):
        with self._lock:
            self.sock.sendall(data)

    def subscribe(self, subject, queue_group=None):
        sid = str(len(self._by_sid) + 1)
        self._by_sid[sid] = subject
        self._received.setdefault(subject, [])
        group = (" " + queue_group) if queue_group else ""
        self._send(("SUB %s%s %s\r\n" % (subject, group, sid)).encode())
        self.flush()

    def publish(self, subject, payload):
        if isinstance(payload, str):
            payload = payload.encode()
        self._send(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(payload), payload))

    def flush(self, timeout=5.0):
        with self._cond:
            wanted = self._pongs + 1
        self._send(b"PING\r\n")
        with self._cond:
            if not self._cond.wait_for(lambda: self._pongs >= wanted or self._closed, timeout):
                raise AssertionError("the NATS server did not answer PING")

    def messages(self, subject):
        with self._cond:
            return list(self._received.get(subject, []))

    def wait_for(self, subject, count, timeout=10.0):
        with self._cond:
            self._cond.wait_for(lambda: len(self._received.get(subject, [])) >= count, timeout)
            return list(self._received.get(subject, []))

    def close(self):
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _exactly(self, n):
        while len(self._buffer) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n + 2:]
        return data

    def _read(self):
        try:
            while True:
                line = self._line()
                if line.startswith(b"MSG "):
                    parts = line.split()
                    sid, size = parts[2].decode(), int(parts[-1])
                    payload = self._exactly(size)
                    with self._cond:
                        self._received[self._by_sid[sid]].append(payload)
                        self._cond.notify_all()
                elif line == b"PING":
                    self._send(b"PONG\r\n")
                elif line == b"PONG":
                    with self._cond:
                        self._pongs += 1
                        self._cond.notify_all()
                elif line.startswith(b"-ERR"):
                    raise AssertionError("NATS server error: %r" % line)
        except (EOFError, OSError):
            with self._cond:
                self._closed = True
                self._cond.notify_all()
