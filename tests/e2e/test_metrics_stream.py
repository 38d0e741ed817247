"""Wallaroo's metrics stream (`--metrics host:port`, spec §5), decoded by a receiver written from the spec.

A worker connects to the Monitoring Hub's address, sends CONNECT and JOIN, then every 2 s (periods aligned to
wall-clock multiples) one PAYLOAD per reporter that saw events. Roo times only a sample of the events, but scales
each period's bins so that they add up to the period's exact event count: a step's bins over all periods add up to
the events sent. The receiver may come late or go away; the worker retries, warns once, and processes on.
"""
import os
import struct
from collections import defaultdict

from conftest import APPS, Receiver, free_port, frame, send_frames, wait_until

PERIOD_NS = 2_000_000_000
STEPS = {("decoder of source 'src'", 1), ("computation 'echo'", 2), ("encoder of sink 'sink 0'", 3)}


class Reader(object):
    """Big-endian fields of one message, failing loudly on a short read."""

    def __init__(self, data):
        self.data = data
        self.at = 0

    def take(self, n):
        assert self.at + n <= len(self.data), "message too short: %d bytes wanted at %d of %d" % (
            n, self.at, len(self.data))
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def text(self):
        return self.take(self.u32()).decode("utf-8")

    def done(self):
        return self.at == len(self.data)


def decode_metrics_record(data):
    r = Reader(data)
    record = {"rec_size": r.u32(), "name": r.text(), "category": r.text(), "worker": r.text(),
              "pipeline": r.text(), "id": r.u16()}
    record["bins"] = [r.u64() for _ in range(65)]
    # The order Wallaroo's code wrote (spec §5): min, then max.
    record["min"], record["max"], record["period_ns"], record["period_end_ns"] = r.u64(), r.u64(), r.u64(), r.u64()
    assert r.done(), "%d bytes left after a metrics record" % (len(data) - r.at)
    return record


def decode_hub_stream(data):
    """Every complete message of one connection: ("connect",), ("join", topic, worker), ("payload", event, topic,
    record). A partial message at the end (the connection cut mid-write) is left out."""
    messages = []
    at = 0
    while at + 4 <= len(data):
        (size,) = struct.unpack(">I", data[at:at + 4])
        if at + 4 + size > len(data):
            break
        r = Reader(data[at + 4:at + 4 + size])
        at += 4 + size
        kind = r.u8()
        if kind == 1:
            messages.append(("connect",))
        elif kind == 2:
            messages.append(("join", r.text(), r.text()))
        elif kind == 3:
            event, topic = r.text(), r.text()
            record = decode_metrics_record(r.take(r.u32()))
            messages.append(("payload", event, topic, record))
        else:
            raise AssertionError("unknown message type %d" % kind)
        assert r.done(), "%d bytes left in a message of type %d" % (len(r.data) - r.at, kind)
    return messages


def records(receiver):
    """Every PAYLOAD's record over all of the receiver's connections."""
    found = []
    for data in receiver.per_connection():
        found.extend(m[3] for m in decode_hub_stream(data) if m[0] == "payload")
    return found


def totals(receiver):
    """The sum of every reporter's bins over all periods, by (category, name)."""
    sums = defaultdict(int)
    for record in records(receiver):
        sums[(record["category"], record["name"])] += sum(record["bins"])
    return sums


def steps_counted(receiver, n):
    sums = totals(receiver)
    return all(sums[("computation", name)] == n for name, _ in STEPS)


def check_connection_opens_with_connect_and_join(data, app="Echo", worker="initializer"):
    assert data[:5] == b"\x00\x00\x00\x01\x01", "CONNECT is u32 1 | u8 1"
    messages = decode_hub_stream(data)
    assert messages[0] == ("connect",)
    assert messages[1] == ("join", "metrics:" + app, worker)
    assert all(m[0] == "payload" for m in messages[2:])


def check_payloads(receiver, n, app="Echo", worker="initializer"):
    periods = defaultdict(list)
    for data in receiver.per_connection():
        for message in decode_hub_stream(data):
            if message[0] != "payload":
                continue
            _, event, topic, record = message
            assert (event, topic) == ("metrics", "metrics:" + app)
            strings = sum(len(record[k].encode()) for k in ("name", "category", "worker", "pipeline"))
            assert record["rec_size"] == 18 + strings + 704, "Wallaroo's record size"
            assert record["worker"] == worker and record["pipeline"] == "src"
            assert record["period_ns"] == PERIOD_NS
            assert record["period_end_ns"] % PERIOD_NS == 0
            assert record["min"] <= record["max"]
            assert sum(record["bins"]) > 0, "idle reporters send nothing"
            periods[(record["category"], record["name"], record["id"])].append(record["period_end_ns"])
    for reporter, ends in periods.items():
        assert ends == sorted(set(ends)), "one payload per reporter and period: %s %s" % (reporter, ends)
    assert {(name, id_) for (category, name, id_) in periods if category == "computation"} == STEPS
    assert set(periods) - {("computation", name, id_) for name, id_ in STEPS} == {
        ("start-to-end", "src", 0), ("node-ingress-egress", worker, 0), ("pipeline-ingestion", "src", 0)}
    sums = totals(receiver)
    for name, _ in STEPS:
        assert sums[("computation", name)] == n, "%s: the bins add up to every event" % name
    assert sums[("start-to-end", "src")] == n, "start-to-end counts every output"
    assert sums[("pipeline-ingestion", "src")] == n
    assert 1 <= sums[("node-ingress-egress", worker)] <= n, "node-ingress-egress sends the timed events"
    for record in records(receiver):
        if record["category"] == "pipeline-ingestion":
            assert record["bins"][0] == sum(record["bins"]) and record["max"] == 0, "ingestion has latency 0"
    return periods


def send(port, count, start=0):
    send_frames(port, [frame("e%d" % i) for i in range(start, start + count)])


def test_the_stream_counts_every_event_of_every_step_across_periods(workers, receiver):
    hub = receiver()
    out = receiver()
    in_port = free_port()
    worker = workers.run(os.path.join(APPS, "echo.py"), "--in", "src@127.0.0.1:%d" % in_port, "--out", out.address,
                         "--metrics", hub.address)
    send(in_port, 700)
    out.wait_for_lines(700)
    wait_until(lambda: steps_counted(hub, 700), 5.0)  # the first period's end has passed: the second batch is apart
    send(in_port, 500, start=700)
    assert len(out.wait_for_lines(1200)) == 1200
    assert hub.wait_for(lambda r: steps_counted(r, 1200), timeout=6.0), dict(totals(hub))
    assert worker.stop() == 0
    assert hub.connections() == 1
    check_connection_opens_with_connect_and_join(hub.per_connection()[0])
    periods = check_payloads(hub, 1200)
    assert len(periods[("computation", "computation 'echo'", 2)]) >= 2, "the events span two periods or more"
    assert "cannot reach the metrics receiver" not in worker.stderr()


def test_a_receiver_that_starts_late_gets_the_stream_and_one_warning_is_logged(workers, receiver):
    port = free_port()
    out = receiver()
    in_port = free_port()
    worker = workers.machida("echo", APPS, "--in", "src@127.0.0.1:%d" % in_port, "--out", out.address,
                             "--metrics", "127.0.0.1:%d" % port, "--ponythreads=1", "--ponynoblock")
    warning = "cannot reach the metrics receiver at 127.0.0.1:%d (connection refused); retrying" % port
    assert worker.wait_for_log(warning)
    send(in_port, 300)  # while nobody listens: the periods wait for the receiver
    assert len(out.wait_for_lines(300)) == 300
    hub = receiver(port)
    assert hub.wait_for(lambda r: steps_counted(r, 300), timeout=10.0), dict(totals(hub))
    assert worker.wait_for_log("sending Wallaroo's metrics stream to 127.0.0.1:%d again" % port)
    assert worker.stop() == 0
    assert worker.stderr().count("the metrics receiver") == 1, "one warning, however many retries"
    check_connection_opens_with_connect_and_join(hub.per_connection()[0])
    check_payloads(hub, 300)


def test_a_receiver_that_goes_away_does_not_disturb_the_stream(workers, receiver):
    hub = Receiver()
    out = receiver()
    in_port = free_port()
    worker = workers.run(os.path.join(APPS, "echo.py"), "--in", "src@127.0.0.1:%d" % in_port, "--out", out.address,
                         "--metrics", hub.address)
    send(in_port, 400)
    assert hub.wait_for(lambda r: steps_counted(r, 400), timeout=6.0), dict(totals(hub))
    hub.close()
    lost = "lost the metrics receiver at %s (" % hub.address
    assert worker.wait_for_log(lost)
    send(in_port, 400, start=400)
    lines = out.wait_for_lines(800)
    assert sorted(lines) == sorted("e%d" % i for i in range(800))
    assert worker.stop() == 0
    log = worker.stderr()
    assert log.count("the metrics receiver") == 1, "one warning while it stays away:\n" + log
    assert "stopped: 800 events in, 800 outputs written, 0 events failed" in log
