"""Bruco mode (issue 13; docs/bruco.md): real `roo run` of Bruco functions (config.yaml + handler.py), driven by real
HTTP clients. Oracle: every answer is exactly what the handler's return rules give for its request."""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import zipfile

import pytest

from conftest import REPO, free_port, wait_until
from nats_fixtures import NatsClient, nats_server  # noqa: F401  (fixture)
from kafka_fixtures import kafka  # noqa: F401  (fixture: the session's Kafka broker)

EXAMPLE = os.path.join(REPO, "examples", "bruco_http")

HANDLER = """
import json, os

def init_context(context):
    context.inits = getattr(context, "inits", 0) + 1
    context.seen = 0

def handle_event(context, data):
    context.seen += 1
    text = data.decode()
    if text == "raise":
        raise ValueError("asked to raise")
    if text == "none":
        return None
    if text == "empty":
        return ""
    if text == "dict":
        return {"n": context.seen, "inits": context.inits}
    if text == "env":
        return os.environ.get("BRUCO_TEST_VAR", "unset")
    if text == "csv":
        return context.response("k", "a,b\\n", "text/csv")
    return text.upper()
"""


def function(tmp_path, config, handler=HANDLER, module="handler"):
    folder = tmp_path / "function"
    folder.mkdir()
    (folder / "config.yaml").write_text(textwrap.dedent(config))
    (folder / ("%s.py" % module)).write_text(textwrap.dedent(handler))
    return folder


def post(port, body, path="/", connection=None):
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", path, body=body)
    answer = conn.getresponse()
    result = (answer.status, answer.getheader("Content-Type"), answer.read())
    if connection is None:
        conn.close()
    return result


def wait_serving(worker, port):
    worker.wait_ready()
    assert wait_until(lambda: _answers(port), 10), worker.stderr()


def _answers(port):
    try:
        return post(port, b"ping")[0] == 200
    except OSError:
        return False


def test_http_answers_follow_brucos_return_rules(workers, tmp_path):
    port = free_port()
    folder = function(tmp_path, """
        processor:
          env:
            - name: BRUCO_TEST_VAR
              value: from-config
        source:
          kind: http
          port: %d
    """ % port)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    wait_serving(worker, port)
    assert post(port, b"hello") == (200, "text/plain; charset=utf-8", b"HELLO")
    status, content_type, body = post(port, b"dict")
    assert (status, content_type) == (200, "application/json") and json.loads(body)["inits"] == 1
    assert post(port, b"none") == (200, "text/plain; charset=utf-8", b"")
    assert post(port, b"empty") == (200, "text/plain; charset=utf-8", b"")
    assert post(port, b"csv") == (200, "text/csv", b"a,b\n")
    assert post(port, b"env") == (200, "text/plain; charset=utf-8", b"from-config")
    assert post(port, b"raise") == (400, "text/plain; charset=utf-8", b"processor error: asked to raise")
    assert post(port, b"") == (400, "text/plain; charset=utf-8", b"processor error: can't handle zero len event")
    assert post(port, b"after") == (200, "text/plain; charset=utf-8", b"AFTER")  # the stream goes on
    assert "handle_event raised on an event of 5 bytes: ValueError: asked to raise" in worker.stderr()
    assert worker.stop() == 0


def test_many_keep_alive_clients_each_get_their_own_answers(workers, tmp_path):
    port = free_port()
    folder = function(tmp_path, "source: {kind: http, port: %d}\n" % port)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    wait_serving(worker, port)
    wrong = []

    def client(c):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(50):
            text = "client%d-%d" % (c, i)
            got = post(port, text.encode(), connection=conn)
            if got != (200, "text/plain; charset=utf-8", text.upper().encode()):
                wrong.append((text, got))
        conn.close()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert wrong == []
    assert worker.stop() == 0


def test_ignore_processor_response_answers_ok_at_once(workers, tmp_path):
    port = free_port()
    folder = function(tmp_path, "source: {kind: http, port: %d, ignoreProcessorResponse: true}\n" % port)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    worker.wait_ready()
    assert wait_until(lambda: _answers(port), 10)
    assert post(port, b"raise")[:2] == (200, "text/plain")  # not the handler's answer
    assert post(port, b"hello")[2] == b"ok"
    assert worker.stop() == 0


def test_a_zipped_function_and_the_example_run(workers, tmp_path):
    port = free_port()
    example = tmp_path / "bruco_http"
    shutil.copytree(EXAMPLE, example)
    config = (example / "config.yaml").read_text().replace("port: 8080", "port: %d" % port)
    (example / "config.yaml").write_text(config)
    archive = tmp_path / "function.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("config.yaml", "handler.py"):
            z.write(example / name, "bruco_http/" + name)  # one subfolder holding the function
    worker = workers.spawn([workers.roo_bin, "run", str(archive)])
    wait_serving(worker, port)
    status, content_type, body = post(port, b"the cat and the hat")
    answer = json.loads(body)
    assert (status, content_type) == (200, "application/json")
    assert answer["words"] == {"the": 2, "cat": 1, "and": 1, "hat": 1}
    assert answer["greeting"] == "hello" and answer["worker"] == "initializer"
    assert "unpacked %s into " % archive in worker.stderr()
    assert worker.stop() == 0


def build_wheel(folder):
    """A minimal wheel of package roo_bruco_testpkg, made by hand (a zip with the package and its dist-info): pip
    installs it offline, with no build step."""
    name = "roo_bruco_testpkg-1.0-py3-none-any.whl"
    files = {
        "roo_bruco_testpkg/__init__.py": "ANSWER = 'from the package'\n",
        "roo_bruco_testpkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: roo-bruco-testpkg\nVersion: 1.0\n",
        "roo_bruco_testpkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: roo-test\nRoot-Is-Purelib: true\n"
                                                   "Tag: py3-none-any\n",
    }
    record = "".join("%s,,\n" % path for path in files) + "roo_bruco_testpkg-1.0.dist-info/RECORD,,\n"
    files["roo_bruco_testpkg-1.0.dist-info/RECORD"] = record
    path = folder / name
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
    return path


def test_requirements_are_installed_before_start(workers, tmp_path):
    port = free_port()
    wheel = build_wheel(tmp_path)
    folder = function(tmp_path, "source: {kind: http, port: %d}\n" % port,
                      handler="import roo_bruco_testpkg\n\ndef handle_event(context, data):\n"
                              "    return roo_bruco_testpkg.ANSWER\n")
    (folder / "requirements.txt").write_text("%s\n" % wheel)
    env = dict(os.environ, PIP_NO_INDEX="1")
    env.pop("VIRTUAL_ENV", None)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)], env=env)
    worker.wait_ready(timeout=120)
    assert wait_until(lambda: _answers(port), 10), worker.stderr()
    assert post(port, b"x")[2] == b"from the package"
    assert "installed %s into the virtualenv %s" % (folder / "requirements.txt", folder / ".roo-venv") \
        in worker.stderr()
    assert worker.stop() == 0


def test_a_failing_pip_stops_the_start_with_its_last_lines(workers, tmp_path):
    folder = function(tmp_path, "source: {kind: http, port: %d}\n" % free_port())
    (folder / "requirements.txt").write_text("no-such-package-roo-test==99\n")
    env = dict(os.environ, PIP_NO_INDEX="1")
    env.pop("VIRTUAL_ENV", None)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)], env=env)
    assert worker.wait(120) == 1
    assert "roo run: unable to install %s with pip" % (folder / "requirements.txt") in worker.stderr()
    assert "no-such-package-roo-test" in worker.stderr()


@pytest.mark.parametrize("config, message", [
    ("source:\n  kind: kafak\n", 'source.kind: "kafak" is not one of kafka, http, nats'),
    ("source: {kind: http}\nsink: {kind: kafka, brokers: [b], topic: t, partitioner: manual}\n",
     "sink.partitioner: manual needs sink.partition"),
    ("source: {kind: http, port: 0}\n", "source.port: 0 is not from 1 to 65535"),
    ("processor: {stateKey: user}\nsource: {kind: http}\n",
     'processor.stateKey: "user" is not message-key or json:<field>'),
    ("processor: {stateKey: message-key}\nsource: {kind: http}\n",
     "processor.stateKey: message-key needs a kafka source (http events have no key; use json:<field>)"),
])
def test_config_errors_name_the_file_and_the_key(workers, tmp_path, config, message):
    folder = function(tmp_path, config)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    assert worker.wait(30) == 2
    assert worker.stderr().strip() == "roo run: unable to read %s: %s" % (folder / "config.yaml", message)


def test_roo_runs_workers_flag_is_checked_against_the_state_key(workers, tmp_path):
    folder = function(tmp_path, "processor: {stateKey: 'json:user'}\nsource: {kind: http, port: %d}\n" % free_port())
    worker = workers.spawn([workers.roo_bin, "run", "--workers", "2", str(folder)])
    assert worker.wait(30) == 2
    assert worker.stderr().strip() == (
        "roo run: unable to read %s: processor.stateKey: with an http source needs 1 worker, not 2 (roo run "
        "--workers): a request is answered by the worker that read it, and a key's events go to the worker keeping "
        "its state (or set source.ignoreProcessorResponse: true)" % (folder / "config.yaml"))


def test_a_missing_handler_names_where_it_looked(workers, tmp_path):
    folder = function(tmp_path, "processor: {moduleName: main}\nsource: {kind: http, port: %d}\n" % free_port())
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    assert worker.wait(30) != 0
    assert "no module 'main' in %s (looked for %s.py; processor.moduleName)" % (folder, folder / "main") \
        in worker.stderr()


def test_nats_to_nats_with_a_queue_group_across_two_workers(workers, tmp_path, nats_server):
    """Each message handled once by one of the two workers (queue group), outputs published; a raising handler's
    message is counted and logged by the worker and the stream goes on."""
    folder = function(tmp_path, """
        processor: {workers: 2}
        source: {kind: nats, serverUrl: "%s", subject: bruco.in, queueGroup: upper}
        sink: {kind: nats, serverUrl: "%s", subject: bruco.out}
    """ % (nats_server.url, nats_server.url))
    client = NatsClient(nats_server.url)
    client.subscribe("bruco.out")
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    assert wait_until(lambda: worker.stderr().count("Application is ready to work") == 2, 60), worker.stderr()
    time.sleep(0.5)  # both subscriptions reach the server
    sent = ["m%d" % i for i in range(300)]
    for text in sent[:150] + ["raise"] + sent[150:]:
        client.publish("bruco.in", text)
    client.flush()
    got = client.wait_for("bruco.out", len(sent), timeout=20)
    assert sorted(m.decode() for m in got) == sorted(t.upper() for t in sent)
    assert worker.stop() == 0
    log = worker.stderr()
    assert log.count("asked to raise") >= 1 and "1 events failed" in log
    client.close()


def test_kafka_to_kafka_keys_the_output_with_the_response_key(workers, tmp_path, kafka):
    source, sink = kafka.unique_topic("bruco-in"), kafka.unique_topic("bruco-out")
    kafka.create_topic(source, partitions=2)
    kafka.create_topic(sink, partitions=3)
    kafka.produce(source, [(None, "csv", None, 0)] + [(None, "v%d" % i, None, i % 2) for i in range(100)])
    folder = function(tmp_path, """
        source:
          kind: kafka
          brokers: [%s]
          topics: [%s]
          consumerGroup: g-%s
          offset: earliest
        sink:
          kind: kafka
          brokers: [%s]
          topic: %s
          partition: 2
          partitioner: manual
    """ % (kafka.bootstrap, source, source, kafka.bootstrap, sink))
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    worker.wait_ready()
    out = kafka.consume(sink, count=101, timeout=60)
    assert sorted(r.value.decode() for r in out) == sorted(["a,b\n"] + ["V%d" % i for i in range(100)])
    assert {r.partition for r in out} == {2}  # manual
    assert [r.key for r in out if r.value == b"a,b\n"] == [b"k"]  # context.response's key
    assert worker.stop() == 0


def test_http_to_nats_answers_the_caller_and_publishes(workers, tmp_path, nats_server):
    port = free_port()
    folder = function(tmp_path, """
        source: {kind: http, port: %d}
        sink: {kind: nats, serverUrl: "%s", subject: bruco.http.out}
    """ % (port, nats_server.url))
    client = NatsClient(nats_server.url)
    client.subscribe("bruco.http.out")
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    wait_serving(worker, port)  # "ping" is published too
    assert post(port, b"hello") == (200, "text/plain; charset=utf-8", b"HELLO")
    assert post(port, b"raise")[0] == 400  # a failed event is not published
    assert post(port, b"none")[0] == 200  # no output: nothing published
    assert [m for m in client.wait_for("bruco.http.out", 2, timeout=10) if m != b"PING"] == [b"HELLO"]
    assert worker.stop() == 0
    client.close()


def test_kafka_to_nats(workers, tmp_path, kafka, nats_server):
    source = kafka.unique_topic("bruco-in")
    kafka.create_topic(source, partitions=2)
    kafka.produce(source, [(None, "v%d" % i, None, i % 2) for i in range(50)])
    folder = function(tmp_path, """
        source: {kind: kafka, brokers: [%s], topics: [%s], consumerGroup: g-%s, offset: earliest}
        sink: {kind: nats, serverUrl: "%s", subject: bruco.k.out}
    """ % (kafka.bootstrap, source, source, nats_server.url))
    client = NatsClient(nats_server.url)
    client.subscribe("bruco.k.out")
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    worker.wait_ready()
    got = client.wait_for("bruco.k.out", 50, timeout=60)
    assert sorted(m.decode() for m in got) == sorted("V%d" % i for i in range(50))
    assert worker.stop() == 0
    assert kafka.committed("g-" + source, source) == {0: 25, 1: 25}  # Roo commits what was delivered
    client.close()


def test_bruco_disable_pip_skips_the_requirements(workers, tmp_path):
    port = free_port()
    folder = function(tmp_path, "source: {kind: http, port: %d}\n" % port)
    (folder / "requirements.txt").write_text("no-such-package-roo-test==99\n")
    env = dict(os.environ, BRUCO_DISABLE_PIP="true", PIP_NO_INDEX="1")
    worker = workers.spawn([workers.roo_bin, "run", str(folder)], env=env)
    wait_serving(worker, port)
    assert "BRUCO_DISABLE_PIP=true: not installing %s" % (folder / "requirements.txt") in worker.stderr()
    assert not (folder / ".roo-venv").exists()
    assert worker.stop() == 0


def test_two_workers_each_run_init_context_once(workers, tmp_path):
    port = free_port()
    folder = function(tmp_path, "processor: {workers: 2}\nsource: {kind: http, port: %d}\n" % port,
                      handler="""
        import os

        def init_context(context):
            context.logger.info("init_context in pid %d as %s", os.getpid(), context.worker_name)

        def handle_event(context, data):
            return context.worker_name
    """)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    assert wait_until(lambda: worker.stderr().count("Application is ready to work") == 2, 60), worker.stderr()
    names = set()
    assert wait_until(lambda: names.add(post(port, b"who")[2]) or len(names) == 2, 30), names
    assert names == {b"initializer", b"worker1"}
    log = worker.stderr()
    assert log.count("init_context in pid") == 2
    assert "as initializer" in log and "as worker1" in log
    assert worker.stop() == 0


# ----------------------------------------------------------------------------------------- no sink: outputs dropped

RECORDING_HANDLER = """
import os
import re

def handle_event(context, data):
    with open(os.environ["BRUCO_SEEN_FILE"], "a") as seen:  # one short append per event: whole lines
        seen.write(data.decode() + "\\n")
    text = data.decode()
    if text == "raise":
        raise ValueError("asked to raise")
    if text == "none":
        return None
    return text.upper()
"""


def seen_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


STOP_LINE = re.compile(r"stopped: (\d+) events in, (\d+) outputs written, (\d+) events failed, (\d+) events not "
                       r"delivered")


def stop_totals(log):
    """(events in, outputs written, events failed, not delivered) summed over every worker's stop line."""
    lines = [tuple(int(n) for n in m.groups()) for m in STOP_LINE.finditer(log)]
    return tuple(sum(column) for column in zip(*lines)) if lines else None


def test_nats_without_a_sink_handles_every_message_once_and_counts_the_dropped_outputs(workers, tmp_path,
                                                                                       nats_server):
    seen = tmp_path / "seen.txt"
    folder = function(tmp_path, """
        processor:
          workers: 2
          env:
            - {name: BRUCO_SEEN_FILE, value: "%s"}
        source: {kind: nats, serverUrl: "%s", subject: bruco.drop}
    """ % (seen, nats_server.url), handler=RECORDING_HANDLER)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    assert wait_until(lambda: worker.stderr().count("Application is ready to work") == 2, 60), worker.stderr()
    time.sleep(0.5)  # both subscriptions reach the server
    client = NatsClient(nats_server.url)
    sent = ["m%d" % i for i in range(300)] + ["none", "raise"]
    for text in sent:
        client.publish("bruco.drop", text)
    client.flush()
    assert wait_until(lambda: len(seen_lines(seen)) >= len(sent), 30), (len(seen_lines(seen)), worker.stderr())
    time.sleep(0.3)  # nothing more comes
    assert sorted(seen_lines(seen)) == sorted(sent)  # every message handled, once
    assert worker.stop() == 0
    log = worker.stderr()
    assert stop_totals(log) == (302, 300, 1, 0), log  # the outputs are counted, then dropped
    assert "asked to raise" in log
    client.close()


def test_kafka_without_a_sink_commits_its_offsets(workers, tmp_path, kafka):
    """No sink: offsets are committed while it runs (as after a sink's delivery), so a restart after kill -9 with the
    same group handles only what came since."""
    topic = kafka.unique_topic("bruco-drop")
    kafka.create_topic(topic, partitions=2)
    first = ["v%d" % i for i in range(40)]
    kafka.produce(topic, [(None, text, None, i % 2) for i, text in enumerate(first)])
    seen = tmp_path / "seen.txt"
    folder = function(tmp_path, """
        processor:
          env:
            - {name: BRUCO_SEEN_FILE, value: "%s"}
        source: {kind: kafka, brokers: [%s], topics: [%s], consumerGroup: g-%s, offset: earliest}
    """ % (seen, kafka.bootstrap, topic, topic), handler=RECORDING_HANDLER)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)], label="first")
    worker.wait_ready()
    assert wait_until(lambda: len(seen_lines(seen)) == 40, 60), worker.stderr()
    assert wait_until(lambda: kafka.committed("g-" + topic, topic) == {0: 20, 1: 20}, 20), \
        kafka.committed("g-" + topic, topic)
    worker.kill()
    later = ["w%d" % i for i in range(10)]
    kafka.produce(topic, [(None, text, None, i % 2) for i, text in enumerate(later)])
    again = workers.spawn([workers.roo_bin, "run", str(folder)], label="again")
    again.wait_ready()
    assert wait_until(lambda: len(seen_lines(seen)) >= 50, 60), again.stderr()
    assert again.stop() == 0
    assert sorted(seen_lines(seen)) == sorted(first + later)  # nothing handled twice
    assert kafka.committed("g-" + topic, topic) == {0: 25, 1: 25}
    assert stop_totals(again.stderr()) == (10, 10, 0, 0)


# ------------------------------------------------------------------------------------- per-key state (stateKey)

COUNTING_HANDLER = """
def init_context(context):
    context.logger.info("init_context sees key %r and state %r", context.key, context.state)

def handle_event(context, data):
    context.state["n"] = context.state.get("n", 0) + 1
    return context.response(context.key, {"key": context.key if isinstance(context.key, str) else
                                          context.key.decode(), "n": context.state["n"],
                                          "worker": context.worker_name})
"""


def wait_http(worker, port):
    """Serving (GET /healthz answers; the pipeline is not involved)."""
    worker.wait_ready()

    def healthy():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False
    assert wait_until(healthy, 10), worker.stderr()


def test_per_key_state_over_http_answers_running_counts(workers, tmp_path):
    port = free_port()
    folder = function(tmp_path, """
        processor: {stateKey: "json:user"}
        source: {kind: http, port: %d}
    """ % port, handler=COUNTING_HANDLER)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    wait_http(worker, port)

    def count(body):
        status, content_type, answer = post(port, body)
        assert (status, content_type) == (200, "application/json"), (body, status, answer)
        answer = json.loads(answer)
        return answer["key"], answer["n"]
    assert count(b'{"user": "ann", "x": 1}') == ("ann", 1)
    assert count(b'{"user": "bob"}') == ("bob", 1)
    assert count(b'{"user": "ann"}') == ("ann", 2)
    assert count(b'{"user": 7}') == ("7", 1)
    assert count(b'{"user": "7"}') == ("7", 2)  # a value that is not a string is keyed by its JSON text
    where = " (processor.stateKey: json:user)"
    assert post(port, b'{"name": "ann"}') == (400, "text/plain; charset=utf-8",
                                              b"processor error: the event has no field 'user'" + where.encode())
    assert post(port, b'{"user": null}') == (400, "text/plain; charset=utf-8",
                                             b"processor error: the event's field 'user' is null" + where.encode())
    assert post(port, b'[1, 2]') == (400, "text/plain; charset=utf-8",
                                     b"processor error: the event is not a JSON object" + where.encode())
    assert post(port, b"ann") == (400, "text/plain; charset=utf-8", b"processor error: the event is not JSON" +
                                  where.encode() + b": Expecting value: line 1 column 1 (char 0)")
    assert post(port, b"") == (400, "text/plain; charset=utf-8", b"processor error: can't handle zero len event")
    assert count(b'{"user": "ann"}') == ("ann", 3)  # the stream goes on
    assert worker.stop() == 0
    log = worker.stderr()
    assert "init_context sees key None and state None" in log
    assert "no state key for an event of 15 bytes: the event has no field 'user'" + where in log


def test_per_key_state_over_nats_across_two_workers_counts_exactly(workers, tmp_path, nats_server):
    """40 keys over 2 workers: each key's events reach the worker keeping its state (wherever NATS delivered them),
    so each key counts 1..10 exactly, on one worker; both workers keep some keys. Events without the key fail."""
    folder = function(tmp_path, """
        processor: {workers: 2, stateKey: "json:user"}
        source: {kind: nats, serverUrl: "%s", subject: bruco.count.in}
        sink: {kind: nats, serverUrl: "%s", subject: bruco.count.out}
    """ % (nats_server.url, nats_server.url), handler=COUNTING_HANDLER)
    client = NatsClient(nats_server.url)
    client.subscribe("bruco.count.out")
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    assert wait_until(lambda: worker.stderr().count("Application is ready to work") == 2, 60), worker.stderr()
    time.sleep(0.5)  # both subscriptions reach the server
    users = ["user%d" % u for u in range(40)]
    for i in range(400):
        client.publish("bruco.count.in", json.dumps({"user": users[i % 40], "i": i}))
        if i == 200:
            client.publish("bruco.count.in", '{"name": "nobody"}')
            client.publish("bruco.count.in", "not json")
    client.flush()
    got = [json.loads(m) for m in client.wait_for("bruco.count.out", 400, timeout=30)]
    counts, owners = {}, {}
    for answer in got:
        counts.setdefault(answer["key"], []).append(answer["n"])
        owners.setdefault(answer["key"], set()).add(answer["worker"])
    assert {key: sorted(ns) for key, ns in counts.items()} == {user: list(range(1, 11)) for user in users}
    assert all(len(names) == 1 for names in owners.values()), owners  # a key's state lives on one worker
    assert set.union(*owners.values()) == {"initializer", "worker1"}  # partitioned across the workers
    assert worker.stop() == 0
    log = worker.stderr()
    assert "StateKeyError: the event has no field 'user' (processor.stateKey: json:user)" in log
    assert "StateKeyError: the event is not JSON (processor.stateKey: json:user)" in log
    assert stop_totals(log)[1:3] == (400, 2), log
    client.close()


def test_per_key_state_by_kafka_message_key_across_two_workers(workers, tmp_path, kafka):
    source, sink = kafka.unique_topic("bruco-keyed-in"), kafka.unique_topic("bruco-keyed-out")
    kafka.create_topic(source, partitions=2)
    kafka.create_topic(sink, partitions=1)
    keys = ["k%d" % k for k in range(20)]
    records = [(keys[i % 20], "v%d" % i, None, i % 2) for i in range(200)]  # each key in both partitions
    kafka.produce(source, records[:100] + [(None, "keyless", None, 0)] + records[100:])
    folder = function(tmp_path, """
        processor: {workers: 2, stateKey: message-key}
        source: {kind: kafka, brokers: [%s], topics: [%s], consumerGroup: g-%s, offset: earliest}
        sink: {kind: kafka, brokers: [%s], topic: %s}
    """ % (kafka.bootstrap, source, source, kafka.bootstrap, sink), handler=COUNTING_HANDLER)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    assert wait_until(lambda: worker.stderr().count("Application is ready to work") == 2, 60), worker.stderr()
    out = kafka.consume(sink, count=200, timeout=60)
    counts = {}
    for record in out:
        answer = json.loads(record.value)
        assert record.key.decode() == answer["key"]  # context.response(context.key, ...)
        counts.setdefault(answer["key"], []).append(answer["n"])
    assert {key: sorted(ns) for key, ns in counts.items()} == {key: list(range(1, 11)) for key in keys}
    assert worker.stop() == 0
    log = worker.stderr()
    assert "StateKeyError: the message has no key (processor.stateKey: message-key)" in log
    assert stop_totals(log)[1:3] == (200, 1), log


def test_per_key_state_survives_kill_9_with_checkpoints(workers, tmp_path):
    port = free_port()
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    folder = function(tmp_path, """
        processor: {stateKey: "json:user"}
        source: {kind: http, port: %d}
    """ % port, handler=COUNTING_HANDLER)
    argv = [workers.roo_bin, "run", "--checkpoint-dir", str(checkpoints), "--checkpoint-interval", "100ms",
            str(folder)]
    first = workers.spawn(argv, label="first")
    wait_http(first, port)
    for n in (1, 2, 3):
        assert json.loads(post(port, b'{"user": "ann"}')[2])["n"] == n
    assert json.loads(post(port, b'{"user": "bob"}')[2])["n"] == 1

    def settled():  # a checkpoint completed and none followed for 0.5 s: nothing changed since (interval 100 ms)
        before = len(re.findall(r"checkpoint \d+ complete: ", first.stderr()))
        time.sleep(0.5)
        return before > 0 and len(re.findall(r"checkpoint \d+ complete: ", first.stderr())) == before
    assert wait_until(settled, 20), first.stderr()
    first.kill()
    again = workers.spawn(argv, label="again")
    wait_http(again, port)
    assert re.search(r"recovery from checkpoint \d+ complete: 2 keys restored", again.stderr()), again.stderr()
    assert json.loads(post(port, b'{"user": "ann"}')[2])["n"] == 4
    assert json.loads(post(port, b'{"user": "bob"}')[2])["n"] == 2
    assert again.stop() == 0
