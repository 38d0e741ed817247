"""Bruco mode (issue 13; docs/bruco.md): real `roo run` of Bruco functions (config.yaml + handler.py), driven by real
HTTP clients. Oracle: every answer is exactly what the handler's return rules give for its request."""
import http.client
import json
import os
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


def test_requirements_are_installed_before_start(workers, tmp_path):
    port = free_port()
    wheel_src = tmp_path / "pkg"
    (wheel_src / "roo_bruco_testpkg").mkdir(parents=True)
    (wheel_src / "roo_bruco_testpkg" / "__init__.py").write_text("ANSWER = 'from the package'\n")
    (wheel_src / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "roo-bruco-testpkg"
        version = "1.0"
    """))
    folder = function(tmp_path, "source: {kind: http, port: %d}\n" % port,
                      handler="import roo_bruco_testpkg\n\ndef handle_event(context, data):\n"
                              "    return roo_bruco_testpkg.ANSWER\n")
    (folder / "requirements.txt").write_text("%s\n" % wheel_src)
    env = dict(os.environ, PIP_NO_BUILD_ISOLATION="1", PIP_NO_INDEX="1")
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
])
def test_config_errors_name_the_file_and_the_key(workers, tmp_path, config, message):
    folder = function(tmp_path, config)
    worker = workers.spawn([workers.roo_bin, "run", str(folder)])
    assert worker.wait(30) == 2
    assert worker.stderr().strip() == "roo run: unable to read %s: %s" % (folder / "config.yaml", message)


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
