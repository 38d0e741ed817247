"""Connector sources (docs/connectors-source.md): real `roo run` workers fed by real connector processes
(wallaroo.experimental's MultiSourceConnector over FramedFileReader files, tests/e2e/apps/file_connector.py) or by a
raw socket speaking the protocol's frames (connector_wire_messages), for the bad-input cases.

ROO_CONNECTOR_KILL_ROUNDS sets the kill -9 rounds of the checkpoint test (default 3).
"""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

from conftest import APPS, REPO, free_port, wait_until, worker_env

from wallaroo.experimental import connector_wire_messages as cwm

APP = os.path.join(APPS, "connector_source.py")
CONNECTOR = os.path.join(APPS, "file_connector.py")
U64_MAX = 2 ** 64 - 1
KILL_ROUNDS = int(os.environ.get("ROO_CONNECTOR_KILL_ROUNDS", "3"))
PREFIX = "connector_source 'events': "


# ------------------------------------------------------------------------------------------------------- helpers


def write_records(path, payloads):
    with open(path, "wb") as f:
        for payload in payloads:
            f.write(struct.pack(">I", len(payload)) + payload)


def start_connector(tmp_path, port, files, *flags, label="connector"):
    """A file_connector.py process; its stderr/stdout go to files under tmp_path."""
    out = open(os.path.join(str(tmp_path), label + ".out"), "wb")
    return subprocess.Popen([sys.executable, CONNECTOR, "--port", str(port)] + list(flags) + [str(f) for f in files],
                            stdout=out, stderr=subprocess.STDOUT, env=worker_env(), cwd=REPO)


def connector_output(tmp_path, label="connector"):
    with open(os.path.join(str(tmp_path), label + ".out"), "rb") as f:
        return f.read().decode("utf-8", "replace")


def run_app(workers, out, port, *extra, label=None):
    return workers.run(APP, "--connector-port", str(port), "--out", out.address, *extra, label=label)


class RawConnector(object):
    """A connector speaking frames by hand over one socket."""

    def __init__(self, port):
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.local_port = self.sock.getsockname()[1]

    def send(self, msg):
        self.sock.sendall(cwm.Frame.encode(msg))

    def read(self):
        """The next frame, or None when the worker closed the connection."""
        header = self._exact(4)
        if header is None:
            return None
        (n,) = struct.unpack(">I", header)
        return cwm.Frame.decode(self._exact(n))

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def hello(self, cookie="cookie", version="0.0.1"):
        self.send(cwm.Hello(version, cookie, "raw", "r1"))
        return self.read()

    def notify(self, stream_id, name="s", por=U64_MAX):
        self.send(cwm.Notify(stream_id, name, por))
        while True:
            reply = self.read()
            if not isinstance(reply, cwm.Ack):
                return reply

    def wait_ack(self, stream_id, por, timeout=10):
        """Reads frames until an ACK acknowledges `stream_id` up to `por`; True if one did."""
        self.sock.settimeout(timeout)
        while True:
            msg = self.read()
            if msg is None:
                return False
            if isinstance(msg, cwm.Ack) and (stream_id, por) in msg.acks:
                return True

    def close(self):
        self.sock.close()


def peer(raw):
    return "'raw' instance 'r1' at 127.0.0.1:%d" % raw.local_port


# ------------------------------------------------------------------------------------------------- a whole run


def test_files_through_a_stateless_app_arrive_exactly_once(workers, receiver, tmp_path):
    """Oracle: two files of 1500 records each, fed by one MultiSourceConnector (one stream per file), come out
    upper-cased, each record exactly once and each file in order; the connector ends once the worker acknowledged
    both streams' ends (at least once without checkpoints: after the sinks delivered)."""
    out = receiver()
    port = free_port()
    worker = run_app(workers, out, port, "--max-credits", "50", "--refill-credits", "10")
    files = []
    for name in ("a", "b"):
        path = tmp_path / ("%s.bin" % name)
        write_records(str(path), [("%s%d" % (name, i)).encode() for i in range(1500)])
        files.append(path)
    connector = start_connector(tmp_path, port, files)
    assert connector.wait(timeout=60) == 0, connector_output(tmp_path) + worker.stderr()
    assert "file_connector: done" in connector_output(tmp_path)
    lines = out.wait_for_lines(3000, timeout=20)
    out.wait_quiet(0.3)
    assert sorted(lines) == sorted(["%s%d" % (n, i) for n in "AB" for i in range(1500)])
    for name in "AB":
        assert [l for l in lines if l.startswith(name)] == ["%s%d" % (name, i) for i in range(1500)]
    assert worker.stop() == 0
    log = worker.stderr()
    assert re.search(PREFIX + r"connector 'file_connector' instance 'files' connected from 127\.0\.0\.1:\d+\n", log)
    assert "stopped: 3000 events in, 3000 outputs written, 0 events failed, 0 events not delivered" in log


def test_an_empty_payload_is_counted_but_not_decoded(workers, receiver):
    """Oracle: MESSAGEs with payloads "x", "", "y": the decoder sees two, the worker counts three events in."""
    out = receiver()
    port = free_port()
    worker = run_app(workers, out, port)
    raw = RawConnector(port)
    assert raw.hello() == cwm.Ok(10)
    assert raw.notify(1) == cwm.NotifyAck(True, 1, U64_MAX)
    for message_id, payload in ((1, b"x"), (2, b""), (3, b"y")):
        raw.send(cwm.Message(1, message_id, 0, None, payload))
    assert out.wait_for_lines(2) == ["X", "Y"]
    assert raw.wait_ack(1, 3), "the empty message's id is acknowledged with the others"
    out.wait_quiet(0.3)
    assert out.lines() == ["X", "Y"]
    raw.close()
    assert worker.stop() == 0
    assert "stopped: 3 events in, 2 outputs written" in worker.stderr()


def test_a_messages_key_routes_it_until_the_first_key_by(workers, receiver):
    """Spec 3.3 / 1.3.2: a connector message's key is its routing key. The app counts in a state computation straight
    after the source (no key_by). Oracle: MESSAGEs keyed a, b, a, (none), b, (none), and one whose key is not UTF-8
    (kept as bytes) count per key: a 1, b 1, a 2, "" 1, b 2, "" 2, the bytes key 1."""
    out = receiver()
    port = free_port()
    worker = run_app(workers, out, port, "--mode", "message-key")
    raw = RawConnector(port)
    assert raw.hello() == cwm.Ok(10)
    assert raw.notify(1) == cwm.NotifyAck(True, 1, U64_MAX)
    keys = [b"a", b"b", b"a", None, b"b", None, b"\xff\xfe"]
    for message_id, key in enumerate(keys, start=1):
        raw.send(cwm.Message(1, message_id, 0, key, b"p%d" % message_id))
    expected = ["p1,1", "p2,1", "p3,2", "p4,1", "p5,2", "p6,2", "p7,1"]
    assert out.wait_for_lines(7) == expected, worker.stderr()
    out.wait_quiet(0.3)
    assert out.lines() == expected
    raw.close()
    assert worker.stop() == 0
    assert "stopped: 7 events in, 7 outputs written, 0 events failed" in worker.stderr()


# ----------------------------------------------------------------------------------------------------- bad input


def test_a_notify_of_a_stream_open_on_the_same_connection_is_refused_and_the_stream_flows_on(workers, receiver):
    """Spec 3.3: a NOTIFY is rejected when the stream is active on this connection too. Oracle: the second NOTIFY of
    stream 1 gets NOTIFY_ACK(0) and one log line; messages 1-3 sent around it come out once each."""
    out = receiver()
    port = free_port()
    worker = run_app(workers, out, port)
    raw = RawConnector(port)
    assert raw.hello() == cwm.Ok(10)
    assert raw.notify(1, "one") == cwm.NotifyAck(True, 1, U64_MAX)
    raw.send(cwm.Message(1, 1, 0, None, b"a"))
    assert raw.notify(1, "one") == cwm.NotifyAck(False, 1, U64_MAX)
    raw.send(cwm.Message(1, 2, 0, None, b"b"))
    raw.send(cwm.Message(1, 3, 0, None, b"c"))
    assert out.wait_for_lines(3) == ["A", "B", "C"]
    assert worker.wait_for_log(PREFIX + "stream 1 ('one') of %s refused: it is open on this connection already\n"
                               % peer(raw)), worker.stderr()
    out.wait_quiet(0.3)
    assert out.lines() == ["A", "B", "C"]
    raw.close()
    assert worker.stop() == 0


def test_a_wrong_cookie_is_refused(workers, receiver, tmp_path):
    out = receiver()
    port = free_port()
    worker = run_app(workers, out, port)
    path = tmp_path / "a.bin"
    write_records(str(path), [b"x"])
    connector = start_connector(tmp_path, port, [path], "--cookie", "guess")
    assert connector.wait(timeout=30) == 1
    assert connector_output(tmp_path) == "file_connector: the worker refused the session: Bad cookie\n"
    assert re.search(PREFIX + r"closing connection from 'file_connector' instance 'files' at 127\.0\.0\.1:\d+: "
                     r"bad cookie\n", worker.stderr())
    assert worker.stop() == 0


def test_a_wrong_protocol_version_is_refused(workers, receiver, tmp_path):
    out = receiver()
    port = free_port()
    worker = run_app(workers, out, port)
    path = tmp_path / "a.bin"
    write_records(str(path), [b"x"])
    connector = start_connector(tmp_path, port, [path], "--version", "0.0.2")
    assert connector.wait(timeout=30) == 1
    assert connector_output(tmp_path) == "file_connector: the worker refused the session: Unknown protocol version\n"
    assert re.search(PREFIX + r"closing connection from 'file_connector' instance 'files' at 127\.0\.0\.1:\d+: "
                     r"unknown protocol version '0\.0\.2' \(this worker speaks 0\.0\.1\)\n", worker.stderr())
    assert worker.stop() == 0


def test_a_message_on_a_stream_not_opened_closes_the_connection(workers, receiver):
    out = receiver()
    port = free_port()
    worker = run_app(workers, out, port)
    raw = RawConnector(port)
    assert raw.hello() == cwm.Ok(10)
    raw.send(cwm.Message(5, 1, 0, None, b"x"))
    assert raw.read() == cwm.Error("MESSAGE for stream 5, which is not open on this connection")
    assert raw.read() is None
    line = PREFIX + "closing connection from %s: MESSAGE for stream 5, which is not open on this connection\n" % \
        peer(raw)
    assert worker.wait_for_log(line), worker.stderr()
    assert worker.stop() == 0
    assert "stopped: 0 events in" in worker.stderr()


def test_message_ids_that_go_back_are_skipped_and_counted(workers, receiver):
    out = receiver()
    port = free_port()
    worker = run_app(workers, out, port)
    raw = RawConnector(port)
    assert raw.hello() == cwm.Ok(10)
    assert raw.notify(1) == cwm.NotifyAck(True, 1, U64_MAX)
    for message_id, payload in ((10, b"a"), (20, b"b"), (15, b"old"), (20, b"again"), (30, b"c")):
        raw.send(cwm.Message(1, message_id, 0, None, payload))
    assert out.wait_for_lines(3) == ["A", "B", "C"]
    raw.close()
    left = PREFIX + "connector %s left (1 streams it had open are free)\n" % peer(raw)
    assert worker.wait_for_log(left), worker.stderr()
    out.wait_quiet(0.3)
    assert out.lines() == ["A", "B", "C"]
    log = worker.stderr()
    assert (PREFIX + "skipping message 15 of stream 1 from %s: ids up to 20 were taken already (later ones are "
            "counted, not logged)\n" % peer(raw)) in log
    assert PREFIX + "%s skipped 2 messages whose ids were taken already\n" % peer(raw) in log
    assert worker.stop() == 0


def test_an_oversized_frame_before_hello_closes_the_connection(workers, receiver):
    out = receiver()
    port = free_port()
    worker = run_app(workers, out, port)
    raw = RawConnector(port)
    raw.sock.sendall(struct.pack(">I", 5000) + b"\x00" * 100)
    assert raw.read() is None
    line = PREFIX + "closing connector connection from 127.0.0.1:%d: frame of 5000 bytes exceeds the limit of " \
        "4096 bytes\n" % raw.local_port
    assert worker.wait_for_log(line), worker.stderr()
    assert worker.stop() == 0


def test_garbage_before_hello_is_answered_with_an_error(workers, receiver):
    out = receiver()
    port = free_port()
    worker = run_app(workers, out, port)
    raw = RawConnector(port)
    raw.sock.sendall(struct.pack(">I", 3) + b"\x4dxy")
    assert raw.read() == cwm.Error("unknown connector message type 77")
    assert raw.read() is None
    line = PREFIX + "closing connection from 127.0.0.1:%d: unknown connector message type 77\n" % raw.local_port
    assert worker.wait_for_log(line), worker.stderr()
    # A NOTIFY before the HELLO is refused the same way.
    raw = RawConnector(port)
    raw.send(cwm.Notify(1, "s", U64_MAX))
    assert raw.read() == cwm.Error("expected HELLO, got NOTIFY")
    assert raw.read() is None
    assert worker.stop() == 0


def test_a_second_connector_takes_over_a_stream_the_first_left_mid_way(workers, receiver):
    """Oracle: A opens stream 7 and sends messages 1-5; B's NOTIFY of stream 7 is refused while A has it. Once 1-5
    were delivered A is acknowledged up to 5; A vanishes; B's NOTIFY is then accepted from 5, and B resending 3-8
    adds only 6-8: every message comes out once."""
    out = receiver()
    port = free_port()
    worker = run_app(workers, out, port)
    first = RawConnector(port)
    assert first.hello() == cwm.Ok(10)
    assert first.notify(7, "seven") == cwm.NotifyAck(True, 7, U64_MAX)
    for i in range(1, 6):
        first.send(cwm.Message(7, i, 0, None, b"m%d" % i))
    second = RawConnector(port)
    assert second.hello() == cwm.Ok(10)
    assert second.notify(7, "seven") == cwm.NotifyAck(False, 7, U64_MAX)
    assert first.wait_ack(7, 5), worker.stderr()
    first.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    first.close()  # a reset: the connector vanished
    left = PREFIX + "connector %s left (1 streams it had open are free)\n" % peer(first)
    assert worker.wait_for_log(left), worker.stderr()
    assert second.notify(7, "seven") == cwm.NotifyAck(True, 7, 5)
    for i in range(3, 9):
        second.send(cwm.Message(7, i, 0, None, b"m%d" % i))
    assert second.wait_ack(7, 8), worker.stderr()
    out.wait_quiet(0.3)
    assert out.lines() == ["M%d" % i for i in range(1, 9)]
    second.close()
    assert worker.stop() == 0
    assert (PREFIX + "stream 7 ('seven') of %s refused: it is open on another connection\n" % peer(second)) in \
        worker.stderr()


# ----------------------------------------------------------------------------------------------------- checkpoints


def final_counts(lines):
    """word -> the highest running count written for it (outputs after a recovery repeat, the state does not)."""
    counts = {}
    for line in lines:
        word, count = line.split(",")
        counts[word] = max(counts.get(word, 0), int(count))
    return counts


def test_kill_9_mid_stream_then_restart_keeps_exact_counts(workers, receiver, roo_bin, tmp_path):
    """Oracle: a keyed running count fed by a connector from a file of 6000 words over 12 keys; the worker is killed
    with SIGKILL KILL_ROUNDS times mid-stream and restarted with the same command (checkpoints every 200 ms); the
    connector starts a new session each time and the worker's NOTIFY_ACK resumes it at the checkpoint. The final
    count per key equals the file's (a fault-free run's): nothing lost, nothing counted twice."""
    keys = ["k%d" % k for k in range(12)]
    words = [keys[(i * 7) % len(keys)] for i in range(6000)]
    expected = {}
    for word in words:
        expected[word] = expected.get(word, 0) + 1
    path = tmp_path / "words.bin"
    write_records(str(path), [w.encode() for w in words])
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    out = receiver()
    port = free_port()
    argv = [roo_bin, "run", "--checkpoint-dir", str(ckdir), "--checkpoint-interval", "200ms", APP, "--mode", "count",
            "--connector-port", str(port), "--out", out.address, "--max-credits", "20", "--refill-credits", "5"]
    worker = workers.spawn(argv, label="worker0")
    worker.wait_ready()
    connector = start_connector(tmp_path, port, [path], "--delay", "0.0005")
    total = len(words)
    for round_ in range(KILL_ROUNDS):
        seen = len(out.lines())
        assert wait_until(lambda: len(out.lines()) >= seen + total // (2 * KILL_ROUNDS + 2), 60), \
            "round %d: no progress\n%s\n%s" % (round_, workers.logs(), connector_output(tmp_path))
        assert worker.wait_for_log("checkpoint", 10)
        worker.proc.send_signal(signal.SIGKILL)
        assert worker.proc.wait(timeout=10) == -signal.SIGKILL
        worker = workers.spawn(argv, label="worker%d" % (round_ + 1))
        worker.wait_ready()
    assert connector.wait(timeout=120) == 0, connector_output(tmp_path) + workers.logs()
    out.wait_quiet(0.5)
    assert final_counts(out.lines()) == expected, workers.logs()
    assert worker.stop() == 0
    assert connector_output(tmp_path).count("file_connector: done") == 1


def free_port_pair():
    """A free port whose next port is free too (worker 1 of two listens on port + 1)."""
    while True:
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue


def test_a_rollback_restarts_the_connectors_and_keeps_exact_counts(roo_bin, receiver, tmp_path):
    """`roo run --workers 2` with checkpoints, a connector per worker (ports P and P + 1), keys spread over both
    workers. kill -9 of worker1: the supervisor starts it again, the initializer rolls back, which stops its connector
    source (RESTART: its connector reconnects by itself) and starts a new one at the checkpoint; worker1's connector
    loses its connection and reconnects by itself once worker1 is back. Oracle: both connectors end (every stream's end acknowledged) and the final count of every
    key equals its files'."""
    from test_ctl import Supervisor
    from test_resilience_cluster import FORMED_AGAIN, supervised_worker
    out = receiver()
    port = free_port_pair()
    files, expected = [], {}
    for name, keys in (("a", ["a%d" % k for k in range(6)]), ("b", ["b%d" % k for k in range(6)])):
        words = [keys[(i * 5) % len(keys)] for i in range(3000)]
        for word in words:
            expected[word] = expected.get(word, 0) + 1
        path = tmp_path / ("%s.bin" % name)
        write_records(str(path), [w.encode() for w in words])
        files.append(path)
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    s = Supervisor(roo_bin, tmp_path, ["--workers", "2", "--checkpoint-dir", str(ckdir), "--checkpoint-interval",
                                       "200ms", APP, "--mode", "count", "--connector-port", str(port), "--out",
                                       out.address, "--max-credits", "20", "--refill-credits", "5"])
    try:
        s.wait_for("initializer: checkpoint 2 complete on 2 workers", timeout=30)
        first = start_connector(tmp_path, port, [files[0]], "--delay", "0.001", label="first")
        second = start_connector(tmp_path, port + 1, [files[1]], "--delay", "0.001", label="second")
        assert wait_until(lambda: len(out.lines()) >= 1500, 60), s.stderr()
        pid = supervised_worker(s, "worker1")
        assert pid, s.stderr()
        os.kill(pid, signal.SIGKILL)
        s.wait_for("roo run: worker1 was killed by SIGKILL; starting it again", timeout=30)
        assert wait_until(lambda: FORMED_AGAIN in s.stderr(), 45), s.stderr()
        for connector, label in ((first, "first"), (second, "second")):
            assert connector.wait(timeout=120) == 0, connector_output(tmp_path, label) + s.stderr()
        out.wait_quiet(0.5)
        assert final_counts(out.lines()) == expected, s.stderr()
        log = s.stderr()
        # The initializer's source was stopped by the rollback, and its connector came back to the new one by itself.
        assert re.search(r"initializer: " + PREFIX + r"stopped\n", log), log
        assert len(re.findall(r"initializer: " + PREFIX + r"connector 'file_connector' instance 'files' connected",
                              log)) == 2, log
        # Both connectors reconnected by themselves (after a RESTART, after a lost connection): neither failed.
        assert connector_output(tmp_path, "first") == "file_connector: done\n"
        assert connector_output(tmp_path, "second") == "file_connector: done\n"
        s.proc.send_signal(signal.SIGTERM)
        assert s.wait(timeout=30) == 0, s.stderr()
    finally:
        s.close()
