"""Connector sources on a cluster (docs/connectors-source.md, "On a cluster"): two real `roo` workers of
apps/connector_source.py, worker i listening on the connector port P + i, and one stream registry for the whole
cluster on the initializer. A stream is open on one connection of the whole cluster: a NOTIFY on another worker is
refused naming the holder, and a stream that moves to another worker resumes from what the whole cluster knows of it
(the ids the previous worker took are skipped; after a rollback, the highest position any worker restored).

Connectors are raw sockets speaking frames (test_connector_source.RawConnector) where a test needs exact frames, and
real connector processes (apps/file_connector.py: wallaroo.experimental's MultiSourceConnector, which retries a
refused stream every second and reconnects by itself) where a test runs a whole stream.

Without checkpoints a cluster commits no position before its final drain (docs/connectors-source.md, Guarantees): a
stream's durable id stays none (U64 max) while it runs, so a NOTIFY_ACK says U64 max and only the skipping of ids
already taken keeps a moved stream exact. With checkpoints, each complete checkpoint commits.
"""
import collections
import os
import re
import socket
import struct
import time

import pytest

from conftest import APPS, free_port, wait_until
from test_connector_source import (CONNECTOR, PREFIX, U64_MAX, RawConnector, connector_output, final_counts, peer,
                                   start_connector, write_records)
from test_resilience_cluster import Restarts

from wallaroo.experimental import connector_wire_messages as cwm

APP = os.path.join(APPS, "connector_source.py")
NAMES = ["initializer", "worker1", "worker2"]
INTERVAL = "200ms"
assert os.path.exists(CONNECTOR)


def start(cluster, out, tmp_path, *app_args, checkpoints=False, size=2, interval=INTERVAL):
    """`size` workers of the app (connector ports P, P + 1, ...); returns (cluster, P)."""
    port = free_port(span=size)
    flags = []
    if checkpoints:
        ckpt = tmp_path / "ck"
        ckpt.mkdir()
        flags = ["--checkpoint-dir", str(ckpt), "--checkpoint-interval", interval]
    c = cluster(APP, size, out.address, app_args=["--connector-port", str(port)] + list(app_args), run_flags=flags)
    for m in c.members:
        assert m.wait_for_log(PREFIX + "listening on 127.0.0.1:%d" % (port + m.index), 10), c.logs()
    return c, port


class Connector(RawConnector):
    def notify_ack(self):
        """The next frame that is not an ACK (credits)."""
        while True:
            reply = self.read()
            if not isinstance(reply, cwm.Ack):
                return reply


def connected(port):
    raw = Connector(port)
    assert raw.hello() == cwm.Ok(10)
    return raw


def vanish(raw):
    """Close with a reset, as a killed connector's connection ends."""
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()


def refused_line(raw, stream, name, holder):
    return PREFIX + "stream %d ('%s') of %s refused: it is open on worker '%s'\n" % (stream, name, peer(raw), holder)


def left_line(raw, streams=1):
    return PREFIX + "connector %s left (%d streams it had open are free)\n" % (peer(raw), streams)


def skipping_line(raw, first, stream, upto):
    return PREFIX + ("skipping message %d of stream %d from %s: ids up to %d were taken already (later ones are "
                     "counted, not logged)\n" % (first, stream, peer(raw), upto))


def skipped_line(raw, count):
    return PREFIX + "%s skipped %d messages whose ids were taken already\n" % (peer(raw), count)


def send_range(raw, stream, first, last, payload="m%d"):
    for i in range(first, last + 1):
        raw.send(cwm.Message(stream, i, 0, None, (payload % i).encode()))


# ------------------------------------------------------------------------------------------------ without checkpoints


@pytest.mark.parametrize("size,holder,other", [(2, 0, 1), (2, 1, 0), (3, 1, 2)],
                         ids=["initializer-then-worker1", "worker1-then-initializer", "worker1-then-worker2-of-3"])
def test_a_stream_open_on_one_worker_is_refused_on_another_until_it_leaves(cluster, receiver, tmp_path, size, holder,
                                                                           other):
    """Oracle: connector A on worker `holder` opens stream 7 and sends 1-5; B's NOTIFY of stream 7 on worker `other`
    is refused, and `other` logs the holder's name (of 3 workers, the registry on the initializer answers for two
    others). A's EOS does not free the stream (without checkpoints a
    cluster commits nothing before its drain, so the end is never acknowledged); A's connection leaving does. B's
    NOTIFY is then accepted with U64 max (nothing durable), and B resending 1-9 adds only 6-9: the ids A sent are
    skipped (one warning, then the count). Every message comes out once, on the worker that took it."""
    out = receiver()
    c, port = start(cluster, out, tmp_path, size=size)
    first = connected(port + holder)
    assert first.notify(7, "seven") == cwm.NotifyAck(True, 7, U64_MAX)
    send_range(first, 7, 1, 5)
    assert wait_until(lambda: len(out.lines()) == 5, 10), c.logs()
    second = connected(port + other)
    assert second.notify(7, "seven") == cwm.NotifyAck(False, 7, U64_MAX)
    assert c[other].wait_for_log(refused_line(second, 7, "seven", NAMES[holder])), c.logs()
    # An end that is never acknowledged keeps the stream: refused again.
    first.send(cwm.EosMessage(7))
    assert second.notify(7, "seven") == cwm.NotifyAck(False, 7, U64_MAX)
    assert wait_until(lambda: c[other].stderr().count(refused_line(second, 7, "seven", NAMES[holder])) == 2, 5)
    vanish(first)
    assert c[holder].wait_for_log(left_line(first)), c.logs()
    assert second.notify(7, "seven") == cwm.NotifyAck(True, 7, U64_MAX)
    send_range(second, 7, 1, 9)
    assert wait_until(lambda: len(out.lines()) >= 9, 10), c.logs()
    second.close()
    assert c[other].wait_for_log(left_line(second)), c.logs()
    out.wait_quiet(0.3)
    assert sorted(out.lines(), key=lambda line: int(line[1:])) == ["M%d" % i for i in range(1, 10)]
    log = c[other].stderr()
    assert skipping_line(second, 1, 7, 5) in log, log
    assert skipped_line(second, 5) in log, log
    assert "refused: it is open" not in c[holder].stderr(), c.logs()
    c.stop()
    assert "stopped: 5 events in, 5 outputs written" in c[holder].stderr(), c.logs()
    assert "stopped: 4 events in, 4 outputs written" in c[other].stderr(), c.logs()


def test_connectors_on_both_workers_with_their_own_streams_all_flow(cluster, receiver, tmp_path):
    """Oracle: A on the initializer opens streams 1 and 2 while B on worker1 opens 3 and 4, their NOTIFYs interleaved:
    all four are accepted (no false refusal) and all 4 x 30 messages, sent interleaved, come out once each. Then each
    asks for a stream of the other: refused, naming the other worker; their own streams stay open and flowing."""
    out = receiver()
    c, port = start(cluster, out, tmp_path)
    a, b = connected(port), connected(port + 1)
    for raw, stream in ((a, 1), (b, 3), (a, 2), (b, 4)):
        assert raw.notify(stream, "s%d" % stream) == cwm.NotifyAck(True, stream, U64_MAX), c.logs()
    for i in range(1, 31):
        for raw, stream in ((a, 1), (b, 3), (a, 2), (b, 4)):
            raw.send(cwm.Message(stream, i, 0, None, b"s%d-%d" % (stream, i)))
    want = ["S%d-%d" % (s, i) for s in (1, 2, 3, 4) for i in range(1, 31)]
    assert wait_until(lambda: len(out.lines()) >= len(want), 15), c.logs()
    assert b.notify(1, "s1") == cwm.NotifyAck(False, 1, U64_MAX)
    assert a.notify(4, "s4") == cwm.NotifyAck(False, 4, U64_MAX)
    assert c[1].wait_for_log(refused_line(b, 1, "s1", "initializer")), c.logs()
    assert c[0].wait_for_log(refused_line(a, 4, "s4", "worker1")), c.logs()
    a.send(cwm.Message(2, 31, 0, None, b"s2-31"))
    b.send(cwm.Message(3, 31, 0, None, b"s3-31"))
    want += ["S2-31", "S3-31"]
    assert wait_until(lambda: len(out.lines()) >= len(want), 10), c.logs()
    out.wait_quiet(0.3)
    assert sorted(out.lines()) == sorted(want)
    for m in c.members:
        assert m.stderr().count("refused: it is open") == 1, m.stderr()
    a.close()
    b.close()
    c.stop()
    assert "stopped: 61 events in, 61 outputs written" in c[0].stderr(), c.logs()
    assert "stopped: 61 events in, 61 outputs written" in c[1].stderr(), c.logs()


def test_messages_sent_right_behind_their_notify_wait_for_the_registry(cluster, receiver, tmp_path):
    """Oracle: A on worker1 sends NOTIFY(9) and 50 MESSAGEs at once, without waiting for the NOTIFY_ACK: the worker
    reads none of them before the initializer granted the stream, so all 50 are taken. B on the initializer does the
    same with 3 MESSAGEs: refused, and its MESSAGEs are then on a stream not open (ERROR, closed), as on one worker."""
    out = receiver()
    c, port = start(cluster, out, tmp_path)
    a = connected(port + 1)
    a.send(cwm.Notify(9, "nine", U64_MAX))
    send_range(a, 9, 1, 50)
    assert a.notify_ack() == cwm.NotifyAck(True, 9, U64_MAX), c.logs()
    assert wait_until(lambda: len(out.lines()) >= 50, 10), c.logs()
    b = connected(port)
    b.send(cwm.Notify(9, "nine", U64_MAX))
    send_range(b, 9, 1, 3)
    assert b.notify_ack() == cwm.NotifyAck(False, 9, U64_MAX), c.logs()
    assert b.read() == cwm.Error("MESSAGE for stream 9, which is not open on this connection")
    out.wait_quiet(0.3)
    assert sorted(out.lines(), key=lambda line: int(line[1:])) == ["M%d" % i for i in range(1, 51)]
    assert c[0].wait_for_log(refused_line(b, 9, "nine", "worker1")), c.logs()
    a.close()
    c.stop()


def test_a_worker_lost_without_checkpoints_frees_its_streams(cluster, receiver, tmp_path):
    """Oracle: A on worker1 opens stream 7 and sends 1-5; worker1 is killed -9 (no checkpoints: the initializer goes
    on without it). B's NOTIFY of stream 7 on the initializer is accepted, with U64 max: nothing was committed, and
    what worker1 took died with it, so B's 1-8 are all taken again (at least once: 1-5 come out twice, 6-8 once)."""
    out = receiver()
    c, port = start(cluster, out, tmp_path)
    a = connected(port + 1)
    assert a.notify(7, "seven") == cwm.NotifyAck(True, 7, U64_MAX)
    send_range(a, 7, 1, 5)
    assert wait_until(lambda: len(out.lines()) == 5, 10), c.logs()
    c[1].worker.kill()
    assert c[0].wait_for_log("cluster: lost worker 'worker1'", 10), c.logs()
    b = connected(port)
    assert b.notify(7, "seven") == cwm.NotifyAck(True, 7, U64_MAX), c.logs()
    send_range(b, 7, 1, 8)
    assert wait_until(lambda: len(out.lines()) >= 13, 10), c.logs()
    out.wait_quiet(0.3)
    assert sorted(out.lines(), key=lambda line: int(line[1:])) == \
        ["M%d" % i for i in range(1, 9) for _ in range(2 if i <= 5 else 1)]
    assert "refused: it is open" not in c[0].stderr() and "skipping message" not in c[0].stderr(), c.logs()
    a.close()
    b.close()
    assert c.stop(via=0, expect=None) == {"initializer": 1}, c.logs()
    assert "stopped: 8 events in, 8 outputs written" in c[0].stderr(), c.logs()


# ------------------------------------------------------------------------------------------------ with checkpoints

KEYS = ["k%d" % k for k in range(8)]


def word(i):
    return KEYS[(i * 3) % len(KEYS)]


def counts_of(ids):
    return dict(collections.Counter(word(i) for i in ids))


@pytest.mark.parametrize("victim", [1, 0], ids=["kill-worker1", "kill-initializer"])
def test_after_a_rollback_a_stream_resumes_from_the_highest_position_any_worker_restored(cluster, receiver, tmp_path,
                                                                                      victim):
    """A keyed count with checkpoints. Connector A on the initializer sends ids 1-20 of stream 7 and is acknowledged
    up to 20 (a checkpoint covers them); A leaves and B on worker1 NOTIFYs: accepted at 20 (the initializer's
    commit, through the registry), B resends 1-40 and is acknowledged up to 40. Then `victim` is killed -9 and
    restarted: the cluster rolls back to its last checkpoint, where the initializer's part holds stream 7 at 20 and
    worker1's at 40. Oracle: C on the initializer is answered NOTIFY_ACK(7, 40), the highest position restored
    cluster-wide (not the initializer's own 20); C resending 1-60 adds only 41-60, and every key's final count is
    that of ids 1-60 counted once (a fault-free run's)."""
    out = receiver()
    c, port = start(cluster, out, tmp_path, "--mode", "count", checkpoints=True)
    r = Restarts(c)
    assert c[0].wait_for_log("checkpoint 2 complete on 2 workers", 30), r.logs()
    a = connected(port)
    assert a.notify(7, "seven") == cwm.NotifyAck(True, 7, U64_MAX)
    send_words(a, 7, 1, 20)
    assert a.wait_ack(7, 20), r.logs()
    a.close()
    assert c[0].wait_for_log(left_line(a)), r.logs()
    b = connected(port + 1)
    assert b.notify(7, "seven") == cwm.NotifyAck(True, 7, 20)
    send_words(b, 7, 1, 40)
    assert b.wait_ack(7, 40), r.logs()
    assert skipping_line(b, 1, 7, 20) in c[1].stderr(), r.logs()
    r.kill(victim)
    r.restart(victim)
    r.wait_all_ready()
    b.close()
    c3 = connected(port)
    assert c3.notify(7, "seven") == cwm.NotifyAck(True, 7, 40), r.logs()
    send_words(c3, 7, 1, 60)
    assert c3.wait_ack(7, 60), r.logs()
    c3.send(cwm.EosMessage(7))
    assert c3.wait_ack(7, 60), r.logs()
    expected = counts_of(range(1, 61))
    assert wait_until(lambda: final_counts(out.lines()) == expected, 10), (final_counts(out.lines()), r.logs())
    out.wait_quiet(0.3)
    assert final_counts(out.lines()) == expected, r.logs()
    assert skipping_line(c3, 1, 7, 40) in c[0].stderr(), r.logs()
    c3.close()
    c.stop()


HELD = "1 streams it had open are free; 1 of them on other workers once a checkpoint covers what it sent"


def test_a_stream_left_before_a_checkpoint_covers_it_moves_once_one_does(cluster, receiver, tmp_path):
    """A keyed count with checkpoints every 2 s. Right after a checkpoint, connector A on the initializer sends ids
    1-20 of stream 7 and vanishes: no checkpoint covers them yet. The initializer's own connectors may take the stream
    at once (A2 does, and vanishes too), but the initializer keeps it from the other workers until a checkpoint
    covers them: another worker acknowledging ids only the initializer's next checkpoint makes durable could lose
    them. B's NOTIFY on worker1 is refused, naming the initializer, until that checkpoint completes; then it is
    accepted at 20. Oracle: B resending 1-30 adds only 21-30, B is acknowledged up to 30, and every key's final count
    is that of ids 1-30 counted once."""
    out = receiver()
    c, port = start(cluster, out, tmp_path, "--mode", "count", checkpoints=True, interval="2s")
    assert c[0].wait_for_log("checkpoint 1 complete on 2 workers", 30), c.logs()
    a = connected(port)
    assert a.notify(7, "seven") == cwm.NotifyAck(True, 7, U64_MAX)
    send_words(a, 7, 1, 20)
    assert wait_until(lambda: len(out.lines()) == 20, 5), c.logs()
    vanish(a)
    assert c[0].wait_for_log(PREFIX + "connector %s left (%s)\n" % (peer(a), HELD)), c.logs()
    a2 = connected(port)
    assert a2.notify(7, "seven") == cwm.NotifyAck(True, 7, U64_MAX)  # the same worker: at once
    vanish(a2)
    assert c[0].wait_for_log(PREFIX + "connector %s left (%s)\n" % (peer(a2), HELD)), c.logs()
    assert "checkpoint 2 complete" not in c[0].stderr(), "too slow: a checkpoint came first; " + c.logs()
    b = connected(port + 1)
    assert b.notify(7, "seven") == cwm.NotifyAck(False, 7, U64_MAX)
    assert c[1].wait_for_log(refused_line(b, 7, "seven", "initializer")), c.logs()
    answers = []
    for _ in range(60):  # the connector's retries
        answers.append(b.notify(7, "seven"))
        if answers[-1].notify_success:
            break
        time.sleep(0.1)
    assert answers[-1] == cwm.NotifyAck(True, 7, 20), (answers, c.logs())
    assert "checkpoint 2 complete" in c[0].stderr(), c.logs()
    send_words(b, 7, 1, 30)
    assert b.wait_ack(7, 30), c.logs()
    expected = counts_of(range(1, 31))
    assert wait_until(lambda: final_counts(out.lines()) == expected, 10), (final_counts(out.lines()), c.logs())
    assert skipping_line(b, 1, 7, 20) in c[1].stderr(), c.logs()
    b.close()
    c.stop()


def send_words(raw, stream, first, last):
    for i in range(first, last + 1):
        raw.send(cwm.Message(stream, i, 0, None, word(i).encode()))


# ------------------------------------------------------------------------------------------------ real connectors

CONNECTED = re.compile(PREFIX + r"connector 'file_connector' instance 'files' connected from ")


def words_file(tmp_path, count):
    """A file of `count` words over KEYS; returns (its path, each key's count)."""
    words = [word(i) for i in range(count)]
    path = tmp_path / "words.bin"
    write_records(str(path), [w.encode() for w in words])
    return path, dict(collections.Counter(words))


def test_one_file_fed_to_both_workers_at_once_is_counted_once(cluster, receiver, tmp_path):
    """Two file connectors send the same file (so the same stream) at once, one to each worker, with checkpoints.
    The registry lets one of them have the stream; the other's NOTIFYs are refused naming the holder (the connector
    asks again every second) until the holder's end was acknowledged, and it is then answered with the file's end:
    it sends nothing and ends too. Oracle: both connectors end, every record is counted once (one output per record,
    and every key's final count is the file's), and only the loser's worker logged refusals."""
    path, expected = words_file(tmp_path, 1500)
    out = receiver()
    c, port = start(cluster, out, tmp_path, "--mode", "count", "--max-credits", "20", "--refill-credits", "5",
                    checkpoints=True)
    connectors = [start_connector(tmp_path, port + i, [path], "--delay", "0.001", label=NAMES[i]) for i in (0, 1)]
    for connector, name in zip(connectors, NAMES):
        assert connector.wait(timeout=40) == 0, connector_output(tmp_path, name) + c.logs()
        assert connector_output(tmp_path, name) == "file_connector: done\n"
    assert wait_until(lambda: len(out.lines()) >= 1500, 10), c.logs()
    out.wait_quiet(0.3)
    assert len(out.lines()) == 1500, c.logs()
    assert final_counts(out.lines()) == expected
    refusals = [len(re.findall(PREFIX + r"stream \d+ \('[^']*words\.bin'\) of 'file_connector' instance 'files' at "
                               r"127\.0\.0\.1:\d+ refused: it is open on worker '%s'\n" % NAMES[1 - i], m.stderr()))
                for i, m in enumerate(c.members)]
    assert sorted(refusals)[0] == 0 and sorted(refusals)[1] >= 1, (refusals, c.logs())
    assert [m.stderr().count("refused: it is open") for m in c.members] == refusals, c.logs()
    c.stop()


def test_a_file_connector_moved_mid_stream_then_its_worker_killed_keeps_exact_counts(cluster, receiver, tmp_path):
    """A keyed count with checkpoints, fed from a file. The connector on the initializer is killed -9 mid-stream and
    a new one with the same file starts on worker1: the cluster answers its NOTIFY from the initializer's commit and
    worker1 skips the ids the initializer took. Mid-stream again, worker1 is killed -9 and restarted: the cluster rolls
    back, and the connector reconnects to the new worker1 by itself and resumes from the highest position restored.
    Oracle: the connector ends, and every key's final count is the file's (nothing lost, nothing counted twice)."""
    total = 3000
    path, expected = words_file(tmp_path, total)
    out = receiver()
    c, port = start(cluster, out, tmp_path, "--mode", "count", "--max-credits", "20", "--refill-credits", "5",
                    checkpoints=True)
    r = Restarts(c)
    assert c[0].wait_for_log("checkpoint 2 complete on 2 workers", 30), r.logs()
    first = start_connector(tmp_path, port, [path], "--delay", "0.002", label="first")
    assert wait_until(lambda: len(out.lines()) >= total // 4, 30), r.logs()
    first.kill()
    assert first.wait(timeout=10) == -9
    # Killed mid-stream: what it sent last is not covered by a checkpoint yet, so the initializer holds the stream
    # until one is (another worker must not acknowledge those ids first).
    left = re.compile(PREFIX + r"connector 'file_connector' instance 'files' at 127\.0\.0\.1:\d+ left \(1 streams it "
                      r"had open are free(; 1 of them on other workers once a checkpoint covers what it sent)?\)\n")
    assert wait_until(lambda: left.search(c[0].stderr()), 10), r.logs()
    taken = len(out.lines())
    second = start_connector(tmp_path, port + 1, [path], "--delay", "0.002", label="second")
    assert wait_until(lambda: len(out.lines()) >= taken + total // 4, 30), r.logs()
    assert second.poll() is None, "the stream ended before the kill: not mid-stream"
    r.kill(1)
    r.restart(1)
    r.wait_all_ready()
    assert second.wait(timeout=60) == 0, connector_output(tmp_path, "second") + r.logs()
    assert connector_output(tmp_path, "second") == "file_connector: done\n"
    assert wait_until(lambda: final_counts(out.lines()) == expected, 10), (final_counts(out.lines()), r.logs())
    out.wait_quiet(0.3)
    assert final_counts(out.lines()) == expected, r.logs()
    log = r.log("worker1")
    assert len(CONNECTED.findall(log)) == 2, log  # before the kill and after the restart
    # The only refusals: worker1's, while the initializer held the stream until a checkpoint covered what the killed
    # connector had sent (the connector asks again every second).
    refusals = re.findall(r"refused: [^\n]*", r.logs())
    assert refusals == ["refused: it is open on worker 'initializer'"] * len(refusals), refusals
    assert r.logs().count("refused: it is open") == log.count("refused: it is open on worker 'initializer'")
    c.stop()
