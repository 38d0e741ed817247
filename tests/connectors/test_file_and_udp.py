"""The file and UDP connectors (wallaroo.connectors.file_source/file_sink/udp_source/udp_sink), as processes, against
a real protocol peer (protocol_worker.py)."""
import socket
import struct
import time

from protocol_worker import ProtocolWorker, SinkPeer, U64_MAX
from wallaroo.experimental import cwm
from wallaroo.experimental.source_connectors import stream_id_of

from loopback_ports import free_port


def framed(records):
    return b"".join(struct.pack(">I", len(r)) + r for r in records)


def test_file_source_sends_framed_records_then_ends_its_stream(tmp_path, connector_app, start_connector):
    worker = ProtocolWorker()
    path = tmp_path / "in.bin"
    path.write_bytes(framed([b"a", b"bb", b"ccc"]))
    connector = start_connector("file_source", connector_app(source_port=worker.port), "--in-path", path)
    assert connector.wait() == 0, connector.stderr()
    sid = stream_id_of(str(path))
    assert worker.notified == [(sid, str(path), 0)]
    assert worker.messages == [(sid, 5, None, b"a"), (sid, 11, None, b"bb"), (sid, 18, None, b"ccc")]
    assert worker.frames[-1] == cwm.EosMessage(sid)
    hello = worker.frames[0]
    assert (hello.version, hello.cookie, hello.program_name) == ("0.0.1", "cookie", "in")
    assert connector.stderr() == ""
    worker.close()


def test_file_source_resumes_after_the_workers_point_of_reference(tmp_path, connector_app, start_connector):
    worker = ProtocolWorker()
    path = tmp_path / "in.bin"
    path.write_bytes(framed([b"a", b"bb", b"ccc"]))
    sid = stream_id_of(str(path))
    worker.resume_at(sid, 5)
    connector = start_connector("file_source", connector_app(source_port=worker.port), "--in-path", path)
    assert connector.wait() == 0, connector.stderr()
    assert worker.messages == [(sid, 11, None, b"bb"), (sid, 18, None, b"ccc")]
    worker.close()


def test_file_source_reads_lines_of_several_files_with_a_key(tmp_path, connector_app, start_connector):
    worker = ProtocolWorker()
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_bytes(b"x\nyy\n")
    two.write_bytes(b"z\n")
    connector = start_connector("file_source", connector_app(source_port=worker.port), "--in-path",
                                "%s,%s" % (one, two), "--in-format", "lines", "--in-key", "k")
    assert connector.wait() == 0, connector.stderr()
    by_stream = sorted(worker.messages)
    assert by_stream == sorted([(stream_id_of(str(one)), 2, b"k", b"x"), (stream_id_of(str(one)), 5, b"k", b"yy"),
                                (stream_id_of(str(two)), 2, b"k", b"z")])
    worker.close()


def test_file_source_after_restart_resumes_from_the_point_of_reference_given(tmp_path, connector_app,
                                                                             start_connector):
    worker = ProtocolWorker()
    path = tmp_path / "in.txt"
    lines = [b"line%02d" % i for i in range(20)]
    path.write_bytes(b"".join(line + b"\n" for line in lines))  # each line is 7 bytes: offsets 7, 14, ...
    sid = stream_id_of(str(path))
    connector = start_connector("file_source", connector_app(source_port=worker.port), "--in-path", path,
                                "--in-format", "lines", "--in-limit-rate", "20")
    assert len(worker.wait_for_messages(4)) >= 4
    worker.resume_at(sid, 14)  # the worker kept the first two lines
    worker.restart()
    assert connector.wait(20) == 0, connector.stderr()
    assert worker.hellos == 2
    second_notify = [i for i, f in enumerate(worker.frames) if isinstance(f, cwm.Notify)][1]
    after = [(f.message_id, f.message) for f in worker.frames[second_notify:] if isinstance(f, cwm.Message)]
    assert after == [(7 * (i + 1), lines[i]) for i in range(2, 20)]
    worker.close()


def test_file_source_refused_by_the_worker_says_why(tmp_path, connector_app, start_connector):
    worker = ProtocolWorker(cookie="another")
    path = tmp_path / "in.bin"
    path.write_bytes(framed([b"a"]))
    connector = start_connector("file_source", connector_app(source_port=worker.port), "--in-path", path)
    assert connector.wait() == 1
    assert connector.stderr() == ("file-source: unable to open a session with the worker at 127.0.0.1:%d: "
                                  "Bad cookie\n" % worker.port)
    worker.close()


def test_file_source_flags_are_checked(tmp_path, connector_app, start_connector):
    app = connector_app(source_port=1)
    missing = start_connector("file_source", app, "--in-path", tmp_path / "nope")
    assert missing.wait() == 2
    assert missing.stderr() == "file-source: --in-path: no such file: %s\n" % (tmp_path / "nope")
    (tmp_path / "f").write_bytes(b"")
    bad = start_connector("file_source", app, "--in-path", tmp_path / "f", "--in-format", "csv")
    assert bad.wait() == 2
    assert bad.stderr() == "file-source: --in-format must be one of framed, lines, got 'csv'\n"
    unnamed = start_connector("file_source", app, "--connector", "nothing", "--nothing-path", tmp_path / "f")
    assert unnamed.wait() == 2
    assert unnamed.stderr() == "file-source: application '%s' has no source connector named 'nothing'\n" % app


def test_udp_source_counts_datagrams_and_goes_on_from_the_acked_count(tmp_path, connector_app, start_connector):
    worker = ProtocolWorker()
    app = connector_app(source_port=worker.port)
    udp_port = free_port()
    sid = stream_id_of("udp:127.0.0.1:%d" % udp_port)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    connector = start_connector("udp_source", app, "--in-port", udp_port)
    assert worker.wait_for(lambda w: w.notified)
    for payload in (b"one", b"two", b"three"):
        sender.sendto(payload, ("127.0.0.1", udp_port))
    assert worker.wait_for_messages(3) == [(sid, 1, None, b"one"), (sid, 2, None, b"two"), (sid, 3, None, b"three")]
    connector.kill()
    worker.resume_at(sid, 3)
    connector = start_connector("udp_source", app, "--in-port", udp_port, "--in-key", "u")
    assert worker.wait_for(lambda w: len(w.notified) == 2)
    sender.sendto(b"four", ("127.0.0.1", udp_port))
    assert worker.wait_for_messages(4)[3:] == [(sid, 4, b"u", b"four")]
    assert connector.stop() == 0
    assert connector.stderr() == ""
    sender.close()
    worker.close()


def test_file_sink_appends_messages_and_votes_commit(tmp_path, connector_app, start_connector):
    port = free_port()
    out = tmp_path / "out.txt"
    sink = start_connector("file_sink", connector_app(sink_port=port), "--out-path", out, "--out-format", "lines")
    peer = SinkPeer(port)
    assert peer.hello_reply == cwm.Ok(1000)
    assert peer.open_stream(point_of_ref=7) == cwm.NotifyAck(True, 1, 7)
    assert peer.list_uncommitted(42) == struct.pack(">BQI", 202, 42, 0)
    peer.send(b"alpha")
    peer.send(b"beta")
    assert peer.phase1("app-w-worker1-id-1:c_id=1") is True
    assert out.read_bytes() == b"alpha\nbeta\n"
    peer.close()
    peer = SinkPeer(port)  # the worker reconnects: the sink goes on appending
    peer.open_stream()
    peer.send(b"gamma")
    assert peer.phase1("app-w-worker1-id-1:c_id=2") is True
    assert out.read_bytes() == b"alpha\nbeta\ngamma\n"
    assert sink.stop() == 0
    assert sink.stderr() == ""


def test_file_sink_refuses_a_bad_cookie_and_frames_records(tmp_path, connector_app, start_connector):
    port = free_port()
    out = tmp_path / "out.bin"
    sink = start_connector("file_sink", connector_app(sink_port=port), "--out-path", out, "--out-format", "framed")
    bad = SinkPeer(port, cookie="wrong")
    assert bad.hello_reply == cwm.Error("Bad cookie")
    assert bad.read() is None
    peer = SinkPeer(port)
    peer.open_stream()
    peer.send(b"xy")
    assert peer.phase1("t:c_id=1")
    assert out.read_bytes() == framed([b"xy"])
    assert sink.stop() == 0
    assert sink.stderr() == "file-sink: the worker's connection ended: the worker's HELLO has a bad cookie\n"


def test_udp_sink_sends_one_datagram_per_message(connector_app, start_connector):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    port = free_port()
    sink = start_connector("udp_sink", connector_app(sink_port=port), "--out-port", receiver.getsockname()[1])
    peer = SinkPeer(port)
    peer.open_stream()
    for payload in (b"p1", b"p22", b""):
        peer.send(payload)
    assert peer.phase1("t:c_id=1")
    assert [receiver.recv(100) for _ in range(3)] == [b"p1", b"p22", b""]
    assert sink.stop() == 0
    receiver.close()


def test_u64_max_is_what_a_worker_without_a_record_answers():
    assert U64_MAX == 2 ** 64 - 1


def test_a_sink_serves_several_workers_at_once(tmp_path, connector_app, start_connector):
    port = free_port()
    out = tmp_path / "out.txt"
    sink = start_connector("file_sink", connector_app(sink_port=port), "--out-path", out, "--out-format", "lines")
    first, second = SinkPeer(port), SinkPeer(port)
    assert (first.hello_reply, second.hello_reply) == (cwm.Ok(1000), cwm.Ok(1000))
    first.open_stream("app-w-worker1-id-1")
    second.open_stream("app-w-worker2-id-1")
    first.send(b"from one")
    assert first.phase1("t:c_id=1")
    second.send(b"from two")
    assert second.phase1("t:c_id=1")
    assert out.read_bytes() == b"from one\nfrom two\n"
    assert sink.stop() == 0


def test_a_source_waits_for_its_worker(tmp_path, connector_app, start_connector):
    port = free_port()
    path = tmp_path / "in.bin"
    path.write_bytes(framed([b"late"]))
    connector = start_connector("file_source", connector_app(source_port=port), "--in-path", path)
    waiting = "file-source: waiting for the worker at 127.0.0.1:%d\n" % port
    assert wait_until(lambda: connector.stderr() == waiting)
    worker = ProtocolWorker(port=port)
    assert connector.wait(10) == 0
    assert worker.messages == [(stream_id_of(str(path)), 8, None, b"late")]
    assert connector.stderr() == waiting
    stopped = start_connector("file_source", connector_app(source_port=free_port()), "--in-path", path)
    assert wait_until(lambda: "waiting" in stopped.stderr())
    assert stopped.stop() == 0
    worker.close()


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
