"""Fixtures for the shipped connectors' tests (tests/connectors): each connector runs as its own process
(`python3 -m wallaroo.connectors.<name>`) against a real protocol peer (protocol_worker.py) and a real server of its
system (servers.py; Kafka: tests/e2e/kafka_fixtures.py's broker).

* `connector_app(source_port=None, sink_port=None)`: writes an app module (`connector_app_<n>.py` in the test's tmp
  dir) whose `application_setup` has a SourceConnectorConfig "in" (octet codecs, cookie "cookie") and a
  SinkConnectorConfig "out" (cookie "cookie"); returns its module name.
* `start_connector(name, app, *params)`: runs the connector `name` with `--application-module app --connector in|out`
  and the given params; stderr to a file (`.stderr()`), stopped (SIGTERM, then SIGKILL) at teardown.
"""
import itertools
import os
import signal
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, os.path.join(REPO, "python"))

from kafka_fixtures import kafka  # noqa: E402,F401  (the session's Kafka broker)
from servers import postgres_server, rabbitmq_server, redis_server  # noqa: E402,F401

APP_TEMPLATE = '''import wallaroo
import wallaroo.experimental as x


@x.octet_message_decoder
def decode(payload):
    return payload


@x.octet_message_encoder
def encode(value):
    return value


def application_setup(args):
    source = x.SourceConnectorConfig("in", encode, decode, {source_port}, "cookie", 100, 50)
    sink = x.SinkConnectorConfig("out", encode, decode, {sink_port}, "cookie")
    return wallaroo.build_application("connector-test", wallaroo.source("P", source).to_sink(sink))
'''

_app_numbers = itertools.count(1)


@pytest.fixture
def connector_app(tmp_path):
    def write(source_port=1, sink_port=1):
        name = "connector_app_%d" % next(_app_numbers)
        (tmp_path / (name + ".py")).write_text(APP_TEMPLATE.format(source_port=source_port, sink_port=sink_port))
        return name
    return write


class ConnectorProcess(object):
    def __init__(self, name, app, params, tmp_path):
        self.stderr_path = str(tmp_path / ("%s.stderr" % name))
        role = "in" if name.endswith("_source") else "out"
        argv = [sys.executable, "-m", "wallaroo.connectors." + name, "--application-module", app,
                "--connector", role] + [str(p) for p in params]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, "python"), str(tmp_path)]))
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                         env=env, cwd=str(tmp_path))

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait(self, timeout=15):
        return self.proc.wait(timeout=timeout)

    def stop(self, signum=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.wait(timeout=timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def start_connector(tmp_path):
    started = []

    def start(name, app, *params):
        process = ConnectorProcess(name, app, params, tmp_path)
        started.append(process)
        return process
    yield start
    for process in started:
        try:
            process.stop(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
