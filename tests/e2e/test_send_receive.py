"""End-to-end tests of `roo send` and `roo receive`: real processes, real sockets on 127.0.0.1.

Run with `/usr/bin/python3 -m pytest -q tests/e2e/test_send_receive.py` after building `roo`
(set ROO_BIN to use a binary other than <repo>/build/src/cli/roo).
"""

import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 8.0


# ---------------------------------------------------------------------------------------------- helpers


def roo_bin():
    path = Path(os.environ.get("ROO_BIN", REPO / "build" / "src" / "cli" / "roo")).resolve()
    if not path.exists():
        pytest.fail(f"roo binary not found at {path}: build it first (cmake --build build --target roo) or set ROO_BIN")
    return str(path)


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def frames(payloads):
    return b"".join(frame(p) for p in payloads)


def parse_frames(data):
    out, at = [], 0
    while at < len(data):
        (length,) = struct.unpack_from(">I", data, at)
        assert at + 4 + length <= len(data), f"truncated frame at byte {at}"
        out.append(data[at + 4 : at + 4 + length])
        at += 4 + length
    return out


def wait_until(condition, timeout=TIMEOUT, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Listener:
    """A Python TCP listener that accepts any number of connections and keeps each one's bytes."""

    def __init__(self, port=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.connections = []  # one bytearray per accepted connection, in accept order
        self.closed = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            data = bytearray()
            with self.lock:
                self.connections.append(data)
            threading.Thread(target=self._read, args=(conn, data), daemon=True).start()

    def _read(self, conn, data):
        with conn:
            while True:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                with self.lock:
                    data += chunk
        with self.lock:
            self.closed += 1

    def wait_closed(self, count=1):
        wait_until(lambda: self.closed >= count, what=f"{count} connection(s) to close")

    def data(self, index=0):
        with self.lock:
            return bytes(self.connections[index])

    def close(self):
        self.sock.close()


def send(args, cwd, timeout=TIMEOUT):
    return subprocess.run([roo_bin(), "send", *args], cwd=cwd, capture_output=True, timeout=timeout)


class Proc:
    """A running `roo` process whose stdout and stderr are collected by threads."""

    def __init__(self, args, cwd=None):
        self.popen = subprocess.Popen([roo_bin(), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = bytearray()
        self.err = bytearray()
        self.lock = threading.Lock()
        self.pumps = [
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
            for stream, sink in ((self.popen.stdout, self.out), (self.popen.stderr, self.err))
        ]
        for pump in self.pumps:
            pump.start()

    def _pump(self, stream, sink):
        while True:
            chunk = stream.read1(1 << 16)
            if not chunk:
                return
            with self.lock:
                sink += chunk

    def stdout(self):
        with self.lock:
            return bytes(self.out)

    def stderr(self):
        with self.lock:
            return self.err.decode(errors="replace")

    def kill(self):
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


def start_receive(args, cwd=None):
    """Starts `roo receive --listen 127.0.0.1:0 ARGS` and returns (proc, port) once it is listening."""
    proc = Proc(["receive", "--listen", "127.0.0.1:0", *args], cwd=cwd)
    holder = {}

    def listening():
        match = re.match(r"Listening on 127\.0\.0\.1:(\d+)\n", proc.stderr())
        if match:
            holder["port"] = int(match.group(1))
        return "port" in holder or proc.popen.poll() is not None

    wait_until(listening, what="'Listening on' from roo receive")
    assert "port" in holder, f"roo receive did not start: {proc.stderr()}"
    return proc, holder["port"]


def finish(proc, timeout=TIMEOUT):
    """Waits for exit and for both pipes to be read to their end; returns the exit code."""
    try:
        code = proc.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    for pump in proc.pumps:
        pump.join(2)
        assert not pump.is_alive(), "the process's output did not end"
    return code


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


@pytest.fixture
def cleanup():
    procs = []
    yield procs
    for proc in procs:
        proc.kill()


# ---------------------------------------------------------------------------------------------- roo send


def test_send_text_lines_are_framed_exactly(tmp_path):
    (tmp_path / "words.txt").write_bytes(b"alpha\n\nbeta gamma\r\n\n\xc3\xa9t\xc3\xa9\nlast")
    listener = Listener()
    result = send(["--host", listener.address, "--file", "words.txt", "--interval", "0"], tmp_path)
    assert result.returncode == 0, result.stderr
    listener.wait_closed()
    assert listener.data() == frames([b"alpha", b"beta gamma", b"\xc3\xa9t\xc3\xa9", b"last"])
    assert re.fullmatch(rb"sent 4 messages \(40 bytes\) in \d+\.\d{3} s\n", result.stderr), result.stderr


def test_send_report_start_gives_the_monotonic_time_of_the_first_write(tmp_path):
    (tmp_path / "words.txt").write_bytes(b"one\ntwo\n")
    listener = Listener()
    before = time.monotonic()
    result = send(["--host", listener.address, "--file", "words.txt", "--interval", "0", "--report-start"], tmp_path)
    after = time.monotonic()
    assert result.returncode == 0, result.stderr
    listener.wait_closed()
    assert listener.data() == frames([b"one", b"two"])
    match = re.fullmatch(rb"started at (\d+\.\d{6})\nsent 2 messages \(14 bytes\) in \d+\.\d{3} s\n", result.stderr)
    assert match, result.stderr
    assert before <= float(match.group(1)) <= after  # the same clock as Python's time.monotonic()


def test_send_files_are_concatenated_in_order(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"one\ntwo")
    (tmp_path / "b.txt").write_bytes(b"three\n")
    listener = Listener()
    result = send(["-h", listener.address, "-f", "a.txt,b.txt", "-i", "0", "-w"], tmp_path)
    assert result.returncode == 0, result.stderr
    listener.wait_closed()
    assert parse_frames(listener.data()) == [b"one", b"two", b"three"]


def test_send_binary_fixed_size_records_verbatim(tmp_path):
    records = [frame(b"vote%d" % i) + b"\x00" * 0 for i in range(3)]  # each 4 + 5 = 9 bytes
    raw = b"".join(records)
    (tmp_path / "votes.msg").write_bytes(raw)
    listener = Listener()
    result = send(["-h", listener.address, "-f", "votes.msg", "--binary", "--msg-size", "9", "-i", "0"], tmp_path)
    assert result.returncode == 0, result.stderr
    listener.wait_closed()
    assert listener.data() == raw
    lines = (tmp_path / "sent.txt").read_text().splitlines()
    assert [line.split(", ")[1] for line in lines] == [r.hex() for r in records]


def test_send_binary_variable_size_records_are_reframed(tmp_path):
    payloads = [b"", b"x", b"\x00\x01\x02\xff" * 3, b"z" * 300]
    (tmp_path / "var.bin").write_bytes(frames(payloads))
    listener = Listener()
    result = send(["-h", listener.address, "-f", "var.bin", "-y", "-z", "-i", "0"], tmp_path)
    assert result.returncode == 0, result.stderr
    listener.wait_closed()
    assert listener.data() == frames(payloads)
    lines = (tmp_path / "sent.txt").read_text().split("\n")
    assert lines[-1] == ""
    assert [line.split(", ")[1] for line in lines[:-1]] == [p.hex() for p in payloads]


def test_send_variable_size_record_past_the_end_is_an_error(tmp_path):
    (tmp_path / "bad.bin").write_bytes(frame(b"ok") + struct.pack(">I", 100) + b"short")
    listener = Listener()
    result = send(["-h", listener.address, "-f", "bad.bin", "-y", "-z", "-w"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "roo send: unable to read records from 'bad.bin': the record at byte 6 claims 100 bytes "
        "but only 5 remain (--variable-size)\n"
    )
    assert listener.connections == []


def test_send_u64_counter_with_partition_and_start(tmp_path):
    listener = Listener()
    result = send(["-h", listener.address, "--u64", "--partition", "key7", "--start-from", "10", "-m", "3", "-i", "0"],
                  tmp_path)
    assert result.returncode == 0, result.stderr
    listener.wait_closed()
    expected = [struct.pack(">IQ", 12, v) + b"key7" for v in (11, 12, 13)]
    assert listener.data() == b"".join(expected)
    lines = (tmp_path / "sent.txt").read_text().splitlines()
    assert [line.split(", ")[1] for line in lines] == [r[4:].hex() for r in expected]


def test_send_integer_strings_without_a_file(tmp_path):
    listener = Listener()
    result = send(["-h", listener.address, "-m", "12", "-s", "5", "-i", "0"], tmp_path)
    assert result.returncode == 0, result.stderr
    listener.wait_closed()
    assert parse_frames(listener.data()) == [str(i).encode() for i in range(1, 13)]
    listener2 = Listener()
    result = send(["-h", listener2.address, "-m", "3", "-v", "99", "-w"], tmp_path)
    assert result.returncode == 0, result.stderr
    listener2.wait_closed()
    assert parse_frames(listener2.data()) == [b"100", b"101", b"102"]


def test_send_messages_with_and_without_repeat(tmp_path):
    (tmp_path / "ab.txt").write_text("a\nb\nc\n")
    listener = Listener()
    result = send(["-h", listener.address, "-f", "ab.txt", "-m", "8", "-r", "-s", "3", "-i", "0", "-w"], tmp_path)
    assert result.returncode == 0, result.stderr
    listener.wait_closed()
    assert parse_frames(listener.data()) == [b"a", b"b", b"c", b"a", b"b", b"c", b"a", b"b"]
    # Without --repeat the input runs out first.
    listener2 = Listener()
    result = send(["-h", listener2.address, "-f", "ab.txt", "-m", "8", "-i", "0", "-w"], tmp_path)
    assert result.returncode == 0, result.stderr
    listener2.wait_closed()
    assert parse_frames(listener2.data()) == [b"a", b"b", b"c"]
    assert result.stderr.startswith(b"sent 3 messages (15 bytes) in ")


def test_send_round_robins_over_several_hosts(tmp_path):
    first, second, third = Listener(), Listener(), Listener()
    hosts = ",".join(x.address for x in (first, second, third))
    result = send(["-h", hosts, "-m", "10", "-s", "4", "-i", "0", "-w"], tmp_path)
    assert result.returncode == 0, result.stderr
    for listener in (first, second, third):
        listener.wait_closed()
    assert parse_frames(first.data()) == [b"1", b"4", b"7", b"10"]
    assert parse_frames(second.data()) == [b"2", b"5", b"8"]
    assert parse_frames(third.data()) == [b"3", b"6", b"9"]


def test_send_writes_sent_txt_with_wallclock_stamps(tmp_path):
    (tmp_path / "in.txt").write_text("hello world\nbye\n")
    listener = Listener()
    before = time.time_ns()
    result = send(["-h", listener.address, "-f", "in.txt", "-s", "1", "-i", "1000000"], tmp_path)
    after = time.time_ns()
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "sent.txt").read_text().splitlines()
    assert [line.split(", ", 1)[1] for line in lines] == ["hello world", "bye"]
    stamps = [int(line.split(", ", 1)[0]) for line in lines]
    assert before <= stamps[0] < stamps[1] <= after  # one batch per message, 1 ms apart
    assert stamps[1] - stamps[0] >= 900_000


def test_send_no_write_leaves_no_sent_txt(tmp_path):
    listener = Listener()
    result = send(["-h", listener.address, "-m", "2", "-w"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "sent.txt").exists()


def test_send_interval_paces_batches(tmp_path):
    listener = Listener()
    start = time.monotonic()
    result = send(["-h", listener.address, "-m", "10", "-s", "2", "-i", "50000000", "-w"], tmp_path)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    listener.wait_closed()
    assert len(parse_frames(listener.data())) == 10
    assert elapsed >= 0.2  # 5 batches, 4 pauses of 50 ms


def _refusing_port():
    """A port that refuses connections: bound (so nobody else takes it) but not listening."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    return holder, holder.getsockname()[1]


def test_send_connect_timeout_failure(tmp_path):
    holder, port = _refusing_port()
    with holder:
        start = time.monotonic()
        result = send(["-h", f"127.0.0.1:{port}", "-m", "1", "--connect-timeout", "0.5"], tmp_path)
        elapsed = time.monotonic() - start
    assert result.returncode == 1
    assert result.stderr.decode() == (
        f"roo send: 127.0.0.1:{port}: connection refused; retrying every 100 ms for up to 0.5 s (--connect-timeout)\n"
        f"roo send: unable to connect to 127.0.0.1:{port}: connection refused (after 0.5 s)\n"
    )
    assert 0.4 <= elapsed < 3


def test_send_retries_until_the_receiver_listens(tmp_path):
    holder, port = _refusing_port()
    proc = subprocess.Popen([roo_bin(), "send", "-h", f"127.0.0.1:{port}", "-m", "3", "-w", "--connect-timeout", "5"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.3)  # deliberately late: the sender must keep retrying
        holder.close()
        listener = Listener(port)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    listener.wait_closed()
    assert parse_frames(listener.data()) == [b"1", b"2", b"3"]
    assert err.decode().count("retrying every 100 ms") == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--msg-size", "9"], "roo send: unable to use --msg-size without --binary (it sizes binary records)\n"),
        (
            ["--binary", "-f", "x"],
            "roo send: unable to read --binary input without a record format: add --msg-size BYTES or --variable-size\n",
        ),
        (["--binary"], "roo send: unable to use --binary without --file (binary records are read from files)\n"),
        (
            ["--msg-size", "4", "--variable-size", "-y", "-f", "x"],
            "roo send: unable to combine --msg-size with --variable-size (pick one record format)\n",
        ),
        (["-u", "-f", "x"], "roo send: unable to combine --u64 with --file (--u64 generates its own values)\n"),
        (["-v", "3", "-f", "x"], "roo send: unable to combine --start-from with --file (it applies to generated values)\n"),
        (["--connect-timeout", "-1"], "roo send: unable to use a negative --connect-timeout (give 0 or more seconds)\n"),
        (["-h", "nowhere"], "roo send: unable to parse --host address 'nowhere': expected host:port\n"),
        (["--variable-size"], "roo send: unable to use --variable-size without --binary (it describes binary records)\n"),
        (["--partition", "k"], "roo send: unable to use --partition without --u64 (it is appended to --u64 values)\n"),
        (["--repeat"], "roo send: unable to use --repeat without --file (generated values never run out)\n"),
        (["--batch-size", "0"], "roo send: unable to use --batch-size 0 (a batch needs at least 1 message)\n"),
        (["-f", "missing.txt"], "roo send: unable to read --file 'missing.txt': no such file or directory\n"),
        (["--bogus"], None),
    ],
)
def test_send_bad_flags_exit_2(tmp_path, args, message):
    (tmp_path / "x").write_bytes(b"abc")
    result = send(["-h", "127.0.0.1:9", *args], tmp_path)
    assert result.returncode == 2, result.stderr
    if message is None:
        assert result.stderr.decode().startswith("roo send: ")
        assert "--bogus" in result.stderr.decode()
    else:
        assert result.stderr.decode() == message
    assert not (tmp_path / "sent.txt").exists()


def test_send_msg_size_must_divide_the_file(tmp_path):
    (tmp_path / "odd.msg").write_bytes(b"x" * 10)
    result = send(["-h", "127.0.0.1:9", "-f", "odd.msg", "-y", "-g", "4"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "roo send: unable to read records from 'odd.msg': its size (10 bytes) is not a multiple of --msg-size 4\n"
    )


def test_send_reports_a_receiver_that_goes_away(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def accept_then_close():
        conn, _ = server.accept()
        conn.recv(1000)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset
        conn.close()

    threading.Thread(target=accept_then_close, daemon=True).start()
    result = send(["-h", f"127.0.0.1:{port}", "-m", "100000000", "-i", "0", "-s", "10000", "-w"], tmp_path)
    server.close()
    assert result.returncode == 1
    assert re.fullmatch(
        rf"roo send: unable to send to 127\.0\.0\.1:{port}: (connection reset by peer|broken pipe) "
        r"\(after \d+ of 100000000 messages\)\n",
        result.stderr.decode(),
    ), result.stderr


# ---------------------------------------------------------------------------------------------- roo receive


def test_receive_prints_listening_with_the_real_port(cleanup):
    proc, port = start_receive([])
    cleanup.append(proc)
    assert port != 0
    with connect(port):
        pass
    proc.popen.send_signal(signal.SIGTERM)
    assert finish(proc) == 0
    assert proc.stderr() == f"Listening on 127.0.0.1:{port}\n"


def test_receive_framed_prints_payloads_exactly(cleanup):
    proc, port = start_receive(["--framed"])
    cleanup.append(proc)
    payloads = [b"hello", b"", b"two words", b"x" * 70000, b"last"]
    wire = frames(payloads)
    with connect(port) as client:
        # Split at awkward places: inside a header, inside a payload.
        for cut in (2, 7, 11, 5000, len(wire)):
            client.sendall(wire[:cut])
            wire = wire[cut:]
            time.sleep(0.01)
        expected = b"".join(p + b"\n" for p in payloads)
        wait_until(lambda: proc.stdout() == expected, what="framed output")
    proc.popen.send_signal(signal.SIGTERM)
    assert finish(proc) == 0
    assert proc.stdout() == expected


def test_receive_streaming_copies_bytes_verbatim(cleanup):
    proc, port = start_receive([])
    cleanup.append(proc)
    data = b"line one\nline two\n\x00\x01binary\xff\n"
    with connect(port) as client:
        client.sendall(data[:5])
        client.sendall(data[5:])
        wait_until(lambda: proc.stdout() == data, what="streamed output")
        client.sendall(b"tail without newline")
    # The unterminated tail comes out once its connection closes.
    wait_until(lambda: proc.stdout() == data + b"tail without newline", what="the tail")
    proc.popen.send_signal(signal.SIGTERM)
    assert finish(proc) == 0


@pytest.mark.parametrize("framed", [True, False])
def test_receive_many_concurrent_connections(cleanup, framed):
    proc, port = start_receive(["--framed"] if framed else [])
    cleanup.append(proc)
    clients, per_client = 8, 2000

    def client(index):
        msgs = [b"c%d-m%05d" % (index, i) for i in range(per_client)]
        wire = frames(msgs) if framed else b"".join(m + b"\n" for m in msgs)
        with connect(port) as sock:
            for at in range(0, len(wire), 997):  # odd-sized writes split messages between reads
                sock.sendall(wire[at : at + 997])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    total = clients * per_client
    wait_until(lambda: proc.stdout().count(b"\n") >= total, what="all lines")
    proc.popen.send_signal(signal.SIGTERM)
    assert finish(proc) == 0
    lines = proc.stdout().split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    assert len(lines) == total
    # Nothing lost, nothing duplicated, no line torn, and each connection's order kept.
    for index in range(clients):
        mine = [line for line in lines if line.startswith(b"c%d-" % index)]
        assert mine == [b"c%d-m%05d" % (index, i) for i in range(per_client)]


@pytest.mark.parametrize("framed", [True, False])
def test_receive_expect_exits_after_n_messages(cleanup, framed):
    proc, port = start_receive(["--expect", "3", *(["--framed"] if framed else [])])
    cleanup.append(proc)
    msgs = [b"a", b"bb", b"ccc", b"dddd"]
    wire = frames(msgs) if framed else b"".join(m + b"\n" for m in msgs)
    with connect(port) as client:
        client.sendall(wire)  # one more than expected, and the connection stays open
        assert finish(proc) == 0
    assert proc.stdout() == b"a\nbb\nccc\n"


def test_receive_sigterm_flushes_everything(cleanup):
    proc, port = start_receive(["--framed"])
    cleanup.append(proc)
    with connect(port) as first, connect(port) as second:
        first.sendall(frame(b"early"))
        wait_until(lambda: proc.stdout() == b"early\n", what="prompt output while idle")
        first.sendall(frames([b"m%d" % i for i in range(5000)]))
        second.sendall(frames([b"n%d" % i for i in range(5000)]))
        proc.popen.send_signal(signal.SIGTERM)
        assert finish(proc) == 0
    lines = proc.stdout().split(b"\n")[:-1]
    assert len(lines) == 10001
    assert sorted(lines) == sorted([b"early"] + [b"m%d" % i for i in range(5000)] + [b"n%d" % i for i in range(5000)])


def test_receive_sigint_exits_0_with_stats(cleanup):
    proc, port = start_receive(["--stats"])
    cleanup.append(proc)
    with connect(port) as client:
        client.sendall(b"one\ntwo\nthree\n")
        wait_until(lambda: proc.stdout() == b"one\ntwo\nthree\n", what="the lines")
    proc.popen.send_signal(signal.SIGINT)
    assert finish(proc) == 0
    assert re.fullmatch(
        rf"Listening on 127\.0\.0\.1:{port}\nreceived 3 messages \(14 bytes\) in \d+\.\d{{3}} s, \d+ msg/s\n",
        proc.stderr(),
    ), proc.stderr()


def test_receive_no_write_counts_only(cleanup):
    proc, port = start_receive(["--no-write", "--expect", "4", "--stats"])
    cleanup.append(proc)
    with connect(port) as first, connect(port) as second:
        first.sendall(b"a\nb")
        second.sendall(b"c\n")
        first.sendall(b"\nd\n")
        assert finish(proc) == 0
    assert proc.stdout() == b""
    assert re.search(r"received 4 messages \(8 bytes\) in \d+\.\d{3} s, \d+ msg/s\n", proc.stderr()), proc.stderr()


def test_receive_closes_a_connection_with_a_malformed_frame(cleanup):
    proc, port = start_receive(["--framed"])
    cleanup.append(proc)
    with connect(port) as good, connect(port) as bad:
        bad.sendall(frame(b"fine") + b"\xff\xff\xff\xff" + b"rest")
        good.sendall(frame(b"still here"))
        wait_until(lambda: b"over the 64 MiB limit" in proc.stderr().encode(), what="the malformed-frame line")
        try:
            assert bad.recv(10) == b""  # closed by roo receive
        except ConnectionResetError:
            pass  # also closed: some bytes were still unread when it closed
        good.sendall(frame(b"and again"))
        wait_until(lambda: proc.stdout().count(b"\n") == 3, what="the good connection's frames")
    proc.popen.send_signal(signal.SIGTERM)
    assert finish(proc) == 0
    assert sorted(proc.stdout().split(b"\n")[:-1]) == [b"and again", b"fine", b"still here"]
    assert re.search(r"roo receive: closing the connection from 127\.0\.0\.1:\d+: frame length 4294967295 is over "
                     r"the 64 MiB limit \(--framed\)\n", proc.stderr())


def test_receive_listen_failure_exit_1():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    with holder:
        result = subprocess.run([roo_bin(), "receive", "--listen", f"127.0.0.1:{port}"], capture_output=True,
                                timeout=TIMEOUT)
    assert result.returncode == 1
    assert result.stderr.decode() == (
        f"roo receive: unable to listen on 127.0.0.1:{port} (--listen): address already in use\n"
    )


def test_receive_bad_listen_address_exit_2():
    result = subprocess.run([roo_bin(), "receive", "--listen", "nowhere"], capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 2
    assert result.stderr.decode() == "roo receive: unable to parse --listen address 'nowhere': expected host:port\n"


# ---------------------------------------------------------------------------------------------- send -> receive


def test_send_to_receive_100000_messages_exactly(tmp_path, cleanup):
    proc, port = start_receive(["--framed", "--expect", "100000", "--stats"])
    cleanup.append(proc)
    result = send(["-h", f"127.0.0.1:{port}", "-m", "100000", "-s", "1000", "-i", "0"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert finish(proc) == 0
    assert proc.stdout() == b"".join(b"%d\n" % i for i in range(1, 100001))
    assert re.search(r"received 100000 messages \(888895 bytes\) in \d+\.\d{3} s, \d+ msg/s\n", proc.stderr())
    assert len((tmp_path / "sent.txt").read_text().splitlines()) == 100000


def test_send_to_receive_repeated_file_counted_by_expect(tmp_path, cleanup):
    (tmp_path / "w.txt").write_text("x\nyy\n")
    proc, port = start_receive(["--framed", "--no-write", "--expect", "100000", "--stats"])
    cleanup.append(proc)
    result = send(["-h", f"127.0.0.1:{port}", "-f", "w.txt", "-r", "-m", "100000", "-s", "5000", "-i", "0", "-w"],
                  tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(b"sent 100000 messages (550000 bytes) in ")
    assert finish(proc) == 0
    assert re.search(r"received 100000 messages \(550000 bytes\) in ", proc.stderr()), proc.stderr()


def test_send_progress_only_on_a_terminal(tmp_path):
    import pty

    listener = Listener()
    args = [roo_bin(), "send", "-h", listener.address, "-m", "60", "-s", "1", "-i", "10000000", "-w"]
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=terminal)
    os.close(terminal)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert proc.wait(TIMEOUT) == 0
    assert re.search(rb"\r\x1b\[Kroo send: \d+ of 60 messages \(\d+\.\d%\), \d+ msg/s, ETA \d+ s", seen), seen
    assert re.search(rb"\r\x1b\[Ksent 60 messages \(\d+ bytes\) in \d+\.\d{3} s\r?\n$", seen), seen
    # Not a terminal: only the summary.
    result = send(args[2:], tmp_path)
    assert re.fullmatch(rb"sent 60 messages \(\d+ bytes\) in \d+\.\d{3} s\n", result.stderr), result.stderr
