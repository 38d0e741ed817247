"""The TCP sink's delivery promise with real processes: a receiver killed with SIGKILL while the worker is far
behind loses nothing (every line arrives at least once, at a line boundary on the new connection; duplicates are
counted and allowed), and a drain that times out says how many bytes were not delivered and exits 1, within
--drain-timeout.
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

from conftest import APPS, connect, frame, free_port, wait_until

ECHO = os.path.join(APPS, "echo.py")
LINE_RECEIVER = os.path.join(APPS, "line_receiver.py")


class ReceiverProcess(object):
    """line_receiver.py as a child process, writing what it reads to `path`."""

    def __init__(self, port, path, *flags):
        self.path = path
        self.proc = subprocess.Popen([sys.executable, LINE_RECEIVER, str(port), path] + list(flags),
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert self.proc.stdout.readline() == b"listening\n"

    def data(self):
        with open(self.path, "rb") as f:
            return f.read()

    def line_count(self):
        return self.data().count(b"\n") if os.path.exists(self.path) else 0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def send_in_background(port, payloads):
    def send():
        with connect(port) as s:
            s.sendall(b"".join(frame(p) for p in payloads))
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_a_receiver_killed_while_behind_loses_no_line(workers, tmp_path):
    in_port, out_port = free_port(), free_port()
    expected = ["line-%06d" % i for i in range(300000)]
    first = ReceiverProcess(out_port, str(tmp_path / "first.out"), "--chunk", "4096", "--delay-ms", "2")
    try:
        worker = workers.run(ECHO, "--in", "Echo@127.0.0.1:%d" % in_port, "--out", "127.0.0.1:%d" % out_port)
        sender = send_in_background(in_port, expected)
        assert wait_until(lambda: first.line_count() >= 5000, timeout=30), worker.stderr()
    finally:
        first.kill()
    read_by_first = first.data()
    assert len(read_by_first.split(b"\n")) - 1 < len(expected) // 2, "the worker was not behind: proves nothing"
    second = ReceiverProcess(out_port, str(tmp_path / "second.out"))
    try:
        assert worker.wait_for_log("tcp_sink 'sink 0': connected to 127.0.0.1:%d" % out_port, timeout=10)
        wanted = set(expected)

        def all_arrived():
            lines = read_by_first.split(b"\n")[:-1] + second.data().split(b"\n")[:-1]
            return wanted.issubset(x.decode() for x in lines)
        assert wait_until(all_arrived, timeout=60), worker.stderr()
        sender.join(timeout=10)
        assert worker.stop() == 0, worker.stderr()
    finally:
        second.kill()
    read_by_second = second.data()
    # The first connection may end inside a line (the receiver died mid-read); the second starts at a line
    # boundary and ends with a whole line.
    first_lines = read_by_first.split(b"\n")[:-1]
    second_lines = read_by_second.split(b"\n")
    assert second_lines[-1] == b""
    second_lines = second_lines[:-1]
    line = re.compile(rb"line-\d{6}\Z")
    assert all(line.match(x) for x in first_lines[1:] + second_lines), "a torn line"
    received = [x.decode() for x in first_lines + second_lines]
    assert set(received) == set(expected)
    duplicates = len(received) - len(expected)
    # At-least-once: the second connection repeats at most what the first receiver's kernel held for it; in order.
    assert second_lines == [x.encode() for x in expected[len(expected) - len(second_lines):]]
    print("first receiver read %d lines, second %d, duplicates %d"
          % (len(first_lines), len(second_lines), duplicates))
    assert "reconnecting to resend" in worker.stderr()


def test_a_drain_that_times_out_reports_the_undelivered_bytes_and_exits_1(workers, tmp_path):
    in_port, out_port = free_port(), free_port()
    # 300,000 lines of 70 bytes: 21 MB, more than the sink's 16 MiB budget, to a receiver that never reads.
    expected = ["%069d" % i for i in range(300000)]
    stuck = ReceiverProcess(out_port, str(tmp_path / "stuck.out"), "--no-read")
    try:
        worker = workers.spawn([workers.roo_bin, "run", "--drain-timeout", "4", ECHO, "--in",
                                "Echo@127.0.0.1:%d" % in_port, "--out", "127.0.0.1:%d" % out_port]).wait_ready()
        send_in_background(in_port, expected)
        # Behind: the sink holds its whole budget and the executor waits.
        assert worker.wait_for_log("tcp_sink 'sink 0': connected", timeout=10)
        time.sleep(2)
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        stuck.kill()
    log = worker.stderr()
    assert code == 1, log
    # The stop takes --drain-timeout (4 s), not twice that; generous for a loaded machine.
    assert 3.5 < elapsed < 7.5, (elapsed, log)
    match = re.search(r"E roo\.runtime[^:]*: sink 'sink 0': (\d+) bytes not delivered to 127\.0\.0\.1:%d before "
                      r"the drain timeout \(the peer did not acknowledge them\)\n" % out_port, log)
    assert match, log
    assert int(match.group(1)) > 0
