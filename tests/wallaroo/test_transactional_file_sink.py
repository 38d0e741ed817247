"""The reference 2PC connector sink (python/wallaroo/connectors/transactional_file_sink.py) alone: a real process,
driven over real sockets with raw frames as a worker sends them (wallaroo.experimental.connector_wire_messages and
connector_two_phase), killed with SIGKILL where a test needs it.
"""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

from wallaroo.experimental import connector_two_phase as tpc
from wallaroo.experimental import connector_wire_messages as cwm
from wallaroo.connectors.transactional_file_sink import committed_output

PYTHON_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "python")
STREAM = "App-w-initializer-id-0"
LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


class SinkProcess(object):
    def __init__(self, out_dir, *flags):
        env = dict(os.environ, PYTHONPATH=os.path.abspath(PYTHON_DIR))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wallaroo.connectors.transactional_file_sink", "--port", "0", "--cookie", "ck",
             "--output-dir", str(out_dir)] + list(flags), stderr=subprocess.PIPE, env=env)
        line = self.proc.stderr.readline().decode()
        match = LISTENING.search(line)
        assert match, line
        self.port = int(match.group(1))

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=10)
        return self.proc.stderr.read().decode()


@pytest.fixture
def sinks():
    started = []

    def start(out_dir, *flags):
        sink = SinkProcess(out_dir, *flags)
        started.append(sink)
        return sink
    yield start
    for sink in started:
        if sink.proc.poll() is None:
            sink.proc.kill()
            sink.proc.wait()


class Worker(object):
    """A worker's side of the protocol, frame by frame."""

    def __init__(self, port, cookie="ck"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.send(cwm.Hello("v0.0.1", cookie, "App", "initializer"))

    def send(self, msg):
        self.sock.sendall(cwm.Frame.encode(msg))

    def control(self, msg):
        self.send(cwm.Message(0, 0, 0, None, tpc.encode(msg)))

    def read(self):
        head = self.recv_exactly(4)
        if not head:
            return None
        return cwm.Frame.decode(self.recv_exactly(struct.unpack(">I", head)[0]))

    def read_control(self):
        msg = self.read()
        assert isinstance(msg, cwm.Message) and msg.stream_id == 0, msg
        return tpc.decode(msg.message)

    def recv_exactly(self, n):
        data = b""
        while len(data) < n:
            piece = self.sock.recv(n - len(data))
            if not piece:
                return data
            data += piece
        return data

    def open(self, transactional=True, uncommitted=()):
        """OK, then (transactional) LIST_UNCOMMITTED, then NOTIFY; returns NOTIFY_ACK's point of reference."""
        assert self.read() == cwm.Ok(1000)
        if transactional:
            self.control(tpc.ListUncommitted(7))
            assert self.read_control() == tpc.ReplyUncommitted(7, list(uncommitted))
        self.send(cwm.Notify(1, STREAM, 0))
        ack = self.read()
        assert isinstance(ack, cwm.NotifyAck) and ack.notify_success and ack.stream_id == 1, ack
        return ack.point_of_ref

    def records(self, offset, *payloads):
        for payload in payloads:
            self.send(cwm.Message(1, offset, 0, None, payload))
            offset += len(payload)
        return offset

    def phase1(self, checkpoint, start, end):
        txn = "%s:c_id=%d" % (STREAM, checkpoint)
        self.control(tpc.Phase1(txn, [(1, start, end)]))
        return txn

    def close(self):
        self.sock.close()


def test_a_committed_round_is_the_committed_output_and_the_next_session_continues_after_it(sinks, tmp_path):
    sink = sinks(tmp_path)
    worker = Worker(sink.port)
    assert worker.open() == 0
    end = worker.records(0, b"one\n", b"two\n")
    txn = worker.phase1(1, 0, end)
    assert worker.read_control() == tpc.Phase1Reply(txn, True)
    assert committed_output(str(tmp_path), STREAM) == b""  # prepared, not committed
    worker.control(tpc.Phase2(txn, True))
    worker.records(end, b"three\n")  # never voted on
    time.sleep(0.2)
    worker.close()
    assert committed_output(str(tmp_path), STREAM) == b"one\ntwo\n"
    again = Worker(sink.port)
    assert again.open() == end  # the unvoted "three" is dropped
    assert (tmp_path / (STREAM + ".out")).read_bytes() == b"one\ntwo\n"
    assert sink.stop() == ""


def test_uncommitted_rounds_are_listed_after_a_restart_of_the_sink_and_an_abort_truncates(sinks, tmp_path):
    sink = sinks(tmp_path)
    worker = Worker(sink.port)
    worker.open()
    end1 = worker.records(0, b"a\n")
    txn1 = worker.phase1(1, 0, end1)
    assert worker.read_control() == tpc.Phase1Reply(txn1, True)
    end2 = worker.records(end1, b"bb\n", b"ccc\n")
    txn2 = worker.phase1(2, end1, end2)
    assert worker.read_control() == tpc.Phase1Reply(txn2, True)
    worker.records(end2, b"unvoted\n")
    time.sleep(0.2)
    sink.stop(signal.SIGKILL)
    sink = sinks(tmp_path)
    assert (tmp_path / (STREAM + ".out")).read_bytes() == b"a\nbb\nccc\n"  # cut back at start
    worker = Worker(sink.port)
    assert worker.read() == cwm.Ok(1000)
    worker.control(tpc.ListUncommitted(9))
    assert worker.read_control() == tpc.ReplyUncommitted(9, [txn1, txn2])
    worker.control(tpc.Phase2(txn1, True))
    worker.control(tpc.Phase2(txn2, False))
    worker.send(cwm.Notify(1, STREAM, 0))
    assert worker.read() == cwm.NotifyAck(True, 1, end1)
    assert committed_output(str(tmp_path), STREAM) == b"a\n"
    assert sink.stop() == ""


def test_a_range_that_is_not_the_unvoted_bytes_is_voted_abort_with_one_line(sinks, tmp_path):
    sink = sinks(tmp_path)
    worker = Worker(sink.port)
    worker.open()
    end = worker.records(0, b"xy\n")
    txn = worker.phase1(1, 0, end + 5)
    assert worker.read_control() == tpc.Phase1Reply(txn, False)
    worker.close()
    assert committed_output(str(tmp_path), STREAM) == b""
    assert (tmp_path / (STREAM + ".out")).read_bytes() == b""
    assert sink.stop() == ("transactional_file_sink: voting abort on %s: bytes 0 to 8 are not what it holds unvoted\n"
                           % txn)


def test_a_message_at_the_wrong_offset_gets_error_and_one_line(sinks, tmp_path):
    sink = sinks(tmp_path)
    worker = Worker(sink.port)
    worker.open(transactional=False)
    worker.records(0, b"first\n")
    worker.records(3, b"again\n")
    error = worker.read()
    assert error == cwm.Error("MESSAGE at byte 3 of stream '%s', whose output ends at byte 6" % STREAM)
    assert worker.read() is None  # closed
    assert re.fullmatch(r"transactional_file_sink: 127\.0\.0\.1:\d+: MESSAGE at byte 3 of stream "
                        r"'App-w-initializer-id-0', whose output ends at byte 6\n", sink.stop())


def test_without_list_uncommitted_a_stream_is_at_least_once_and_all_of_it_is_committed(sinks, tmp_path):
    sink = sinks(tmp_path)
    worker = Worker(sink.port)
    assert worker.open(transactional=False) == 0
    end = worker.records(0, b"1\n", b"2\n")
    time.sleep(0.2)
    worker.close()
    again = Worker(sink.port)
    assert again.open(transactional=False) == end
    assert committed_output(str(tmp_path), STREAM) == b"1\n2\n"
    assert sink.stop() == ""


@pytest.mark.parametrize("hello,line", [
    (cwm.Hello("v0.0.1", "wrong", "App", "initializer"), "Bad cookie"),
    (cwm.Hello("0.0.1", "ck", "App", "initializer"), "Unknown protocol version '0.0.1' (this sink speaks v0.0.1)"),
])
def test_a_bad_hello_is_refused_in_one_line_on_both_sides(sinks, tmp_path, hello, line):
    sink = sinks(tmp_path)
    sock = socket.create_connection(("127.0.0.1", sink.port), timeout=5)
    sock.sendall(cwm.Frame.encode(hello))
    data = b""
    while True:
        piece = sock.recv(4096)
        if not piece:
            break
        data += piece
    assert cwm.Frame.decode(data[4:]) == cwm.Error(line)
    assert re.fullmatch(r"transactional_file_sink: 127\.0\.0\.1:\d+: %s\n" % re.escape(line), sink.stop())


def test_a_large_frame_before_hello_closes_the_connection(sinks, tmp_path):
    sink = sinks(tmp_path)
    sock = socket.create_connection(("127.0.0.1", sink.port), timeout=5)
    sock.sendall(struct.pack(">I", 5000))
    reply = sock.recv(4096)
    assert cwm.Frame.decode(reply[4:]) == cwm.Error("a frame of 5000 bytes is more than the 4096 allowed before HELLO")
    assert "before HELLO" in sink.stop()


def test_fault_flags_abort_once_and_leave_one_phase1_unanswered(sinks, tmp_path):
    sink = sinks(tmp_path, "--abort-checkpoint", "1", "--no-reply-checkpoint", "2")
    worker = Worker(sink.port)
    worker.open()
    end = worker.records(0, b"r\n")
    txn1 = worker.phase1(1, 0, end)
    assert worker.read_control() == tpc.Phase1Reply(txn1, False)
    worker.control(tpc.Phase2(txn1, False))
    end = worker.records(0, b"r\n")
    txn2 = worker.phase1(2, 0, end)
    worker.sock.settimeout(0.5)
    with pytest.raises(socket.timeout):
        worker.read()
    worker.close()
    listing = Worker(sink.port)
    assert listing.read() == cwm.Ok(1000)
    listing.control(tpc.ListUncommitted(1))
    assert listing.read_control() == tpc.ReplyUncommitted(1, [txn2])
    assert sink.stop() == ("transactional_file_sink: voting abort on %s (--abort-checkpoint)\n"
                           "transactional_file_sink: not answering PHASE1 %s (--no-reply-checkpoint)\n" % (txn1, txn2))


def test_print_committed(tmp_path):
    (tmp_path / "s.out").write_bytes(b"kept\nprepared\n")
    (tmp_path / "s.txnlog").write_text('{"transactional": true}\n{"end": 5, "phase1": "s:c_id=1", "start": 0}\n'
                                       '{"commit": "s:c_id=1"}\n{"end": 14, "phase1": "s:c_id=2", "start": 5}\n')
    env = dict(os.environ, PYTHONPATH=os.path.abspath(PYTHON_DIR))
    out = subprocess.run([sys.executable, "-m", "wallaroo.connectors.transactional_file_sink", "--print-committed",
                          str(tmp_path)], stdout=subprocess.PIPE, env=env, check=True).stdout
    assert out == b"kept\n"


def test_wallaroo_connector_flags_read_as_the_plain_ones():
    from wallaroo.connectors.transactional_file_sink import parse
    args = parse(["--application-module", "app", "--connector", "results", "--results-port", "7200",
                  "--results-cookie", "ck", "--results-output-dir", "out", "--results-host", "0.0.0.0"])
    assert (args.port, args.cookie, args.output_dir, args.host) == (7200, "ck", "out", "0.0.0.0")
