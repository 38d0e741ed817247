"""NATS in and out (docs/nats.md) against a real nats-server the test starts: exact outputs, a queue group across
`roo run --workers 2` (each message handled once), a server out of reach at the start (one line, exit 1), and a
server restart mid-stream (libnats reconnects; NATS core is at most once: what is published while no subscriber is
connected is gone, what is published after the reconnection arrives, exactly).
"""
import collections
import os
import signal

from conftest import APPS, READY_LINE, wait_until
from loopback_ports import free_port
from nats_fixtures import NatsClient, nats_server  # noqa: F401  (fixture)

APP = os.path.join(APPS, "nats_upper.py")


def run_upper(workers, url, *extra, ready=True):
    return workers.run(APP, "--nats", url, "--in-subject", "words.in", "--out-subject", "words.out", *extra,
                       ready=ready)


def test_each_message_becomes_one_output_message_in_order(workers, nats_server):
    client = NatsClient(nats_server.url)
    client.subscribe("words.out")
    worker = run_upper(workers, nats_server.url)
    sent = ["word %d" % i for i in range(500)] + [""]  # an empty message is an event too
    for text in sent:
        client.publish("words.in", text)
    client.flush()
    got = client.wait_for("words.out", len(sent), timeout=15)
    assert [m.decode() for m in got] == [text.upper() for text in sent]
    assert worker.stop() == 0
    log = worker.stderr()
    assert "nats_source 'Words': subscribed to 'words.in' in queue group 'roo.NatsUpper.Words'" in log
    assert "nats_source 'Words': stopped (0 messages dropped by the client as a slow consumer)" in log
    assert "nats_sink 'sink 0': stopped (0 bytes not delivered)" in log
    assert "501 events in, 501 outputs written, 0 events failed, 0 events not delivered" in log
    assert client.messages("words.out") == got  # nothing more came
    client.close()


def test_a_queue_group_across_two_workers_handles_each_message_once(workers, nats_server):
    for group in (["--queue-group", "uppers"], []):  # the user's group, then the app's own default
        client = NatsClient(nats_server.url)
        client.subscribe("words.out")
        supervisor = run_upper(workers, nats_server.url, "--workers", "2", "--tag-pid", *group)
        assert wait_until(lambda: supervisor.stderr().count(READY_LINE) == 2, 20), supervisor.stderr()
        sent = ["m%d" % i for i in range(400)]
        for text in sent:
            client.publish("words.in", text)
        client.flush()
        got = [m.decode() for m in client.wait_for("words.out", len(sent), timeout=20)]
        assert supervisor.stop(signal.SIGINT) == 0
        counts = collections.Counter(text.split("|")[0] for text in got)
        assert counts == collections.Counter(text.upper() for text in sent)  # every message exactly once
        handled_by = collections.Counter(text.split("|")[1] for text in got)
        assert len(handled_by) == 2, handled_by  # both workers took a share
        client.close()


def test_a_server_out_of_reach_at_the_start_is_one_line_and_exit_1(workers):
    port = free_port()
    worker = run_upper(workers, "nats://127.0.0.1:%d" % port, ready=False)
    assert worker.wait() == 1
    lines = [line for line in worker.stderr().splitlines() if line.strip()]
    assert lines[-1] == ("roo run: unable to connect to nats://127.0.0.1:%d for source 'Words': "
                         "no server available for connection" % port)
    assert READY_LINE not in worker.stderr()


def test_a_bad_server_url_names_the_source_and_the_setting(workers):
    worker = run_upper(workers, "http://127.0.0.1:4222", ready=False)
    assert worker.wait() == 2  # a usage error
    assert ("pipeline 'Words' (source 'Words'): server_url must be a NATS URL like 'nats://127.0.0.1:4222', "
            "got 'http://127.0.0.1:4222'") in worker.stderr()


def test_a_server_restart_mid_stream_reconnects_and_the_stream_goes_on(workers, nats_server):
    client = NatsClient(nats_server.url)
    client.subscribe("words.out")
    worker = run_upper(workers, nats_server.url)
    before = ["before %d" % i for i in range(100)]
    for text in before:
        client.publish("words.in", text)
    client.flush()
    assert [m.decode() for m in client.wait_for("words.out", len(before))] == [t.upper() for t in before]
    client.close()

    nats_server.restart()  # same port; the worker's source and sink reconnect on their own
    client = NatsClient(nats_server.url)
    client.subscribe("words.out")
    # At most once: until the source has subscribed again, what is published is lost. Probe until one comes back.
    probes = iter(range(1000))

    def probe_came_back():
        client.publish("words.in", "probe %d" % next(probes))
        client.flush()
        return any(m.startswith(b"PROBE") for m in client.messages("words.out"))

    assert wait_until(probe_came_back, 20, interval=0.1), worker.stderr()
    probes_back = len(client.messages("words.out"))
    after = ["after %d" % i for i in range(200)]
    for text in after:
        client.publish("words.in", text)
    client.flush()
    got = [m.decode() for m in client.wait_for("words.out", probes_back + len(after))]
    assert [t for t in got if not t.startswith("PROBE")] == [t.upper() for t in after]
    assert worker.stop() == 0
    log = worker.stderr()
    for who in ("nats_source 'Words'", "nats_sink 'sink 0'"):
        assert log.count("%s: lost the connection to %s; reconnecting" % (who, nats_server.url)) == 1, log
        assert log.count("%s: reconnected to %s" % (who, nats_server.url)) == 1, log
    client.close()
