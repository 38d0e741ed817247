"""Real servers for the shipped connectors' tests, each started for the test module on free loopback ports in a
temporary directory, and stopped at its end: `redis_server`, `postgres_server`, `rabbitmq_server`.

A test is skipped (with the reason) only when the server's program is not installed; CI installs them
(tools/setup: redis-server, postgresql, rabbitmq-server). PostgreSQL refuses to run as root: as root its programs run
as the `postgres` user (runuser) in a directory that user owns. RabbitMQ gets an Erlang port mapper (epmd) of its own
on a free port, started and stopped here, so nothing outlives the tests.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from loopback_ports import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
POSTGRES_BIN = (sorted(glob.glob("/usr/lib/postgresql/*/bin")) or ["/usr/lib/postgresql/15/bin"])[-1]
RABBITMQ_SERVER = (sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server")) or
                   ["/usr/lib/rabbitmq/bin/rabbitmq-server"])[-1]
EPMD = shutil.which("epmd") or "/usr/bin/epmd"
START_TIMEOUT = 60.0


def _require(path, package):
    if not os.access(path, os.X_OK):
        pytest.skip("%s is not installed (Debian package %s; tools/setup installs it)" % (path, package))


def _wait_port(port, proc, what, log_path, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("%s did not start on port %d: %s" % (what, port, _tail(log_path)), pytrace=False)


def _tail(path):
    try:
        with open(path, "rb") as f:
            return f.read()[-2000:].decode("utf-8", "replace")
    except OSError:
        return "(no log)"


def _stop(proc, timeout=20):
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Server(object):
    def __init__(self, proc, port, directory, extra=None):
        self.proc, self.port, self.directory = proc, port, directory
        self.extra = extra or []

    def stop(self):
        _stop(self.proc)
        for proc in self.extra:
            _stop(proc)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    _require(REDIS_SERVER, "redis-server")
    directory = str(tmp_path_factory.mktemp("redis"))
    port = free_port()
    log_path = os.path.join(directory, "redis.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
                                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    server = Server(proc, port, directory)
    try:
        _wait_port(port, proc, "redis-server", log_path)
        yield server
    finally:
        server.stop()


def _as_postgres_user(argv):
    return ["runuser", "-u", "postgres", "--"] + argv if os.getuid() == 0 else argv


def _owned_dir(prefix):
    directory = tempfile.mkdtemp(prefix=prefix)
    if os.getuid() == 0:
        import pwd
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
    return directory


@pytest.fixture(scope="module")
def postgres_server():
    """`.dsn`: a libpq connection string for user postgres, database postgres (trust authentication)."""
    _require(os.path.join(POSTGRES_BIN, "postgres"), "postgresql")
    directory = _owned_dir("roo-test-postgres-")
    data = os.path.join(directory, "data")
    log_path = os.path.join(directory, "postgres.log")
    initdb = subprocess.run(_as_postgres_user([os.path.join(POSTGRES_BIN, "initdb"), "-D", data, "-U", "postgres",
                                               "--auth=trust", "--no-sync"]),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if initdb.returncode != 0:
        pytest.fail("initdb failed: %s" % initdb.stdout.decode("utf-8", "replace")[-2000:], pytrace=False)
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(_as_postgres_user([os.path.join(POSTGRES_BIN, "postgres"), "-D", data, "-p",
                                                   str(port), "-k", directory, "-c", "listen_addresses=127.0.0.1",
                                                   "-c", "fsync=off"]),
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    server = Server(proc, port, directory)
    server.dsn = "host=127.0.0.1 port=%d user=postgres dbname=postgres" % port
    try:
        _wait_port(port, proc, "postgres", log_path)
        _wait_postgres(server.dsn, log_path)
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _wait_postgres(dsn, log_path):
    import psycopg2
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            psycopg2.connect(dsn).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                pytest.fail("postgres does not accept connections: %s" % _tail(log_path), pytrace=False)
            time.sleep(0.1)


@pytest.fixture(scope="module")
def rabbitmq_server(tmp_path_factory):
    """`.port`: AMQP on 127.0.0.1 (user guest, password guest)."""
    _require(RABBITMQ_SERVER, "rabbitmq-server")
    directory = str(tmp_path_factory.mktemp("rabbitmq"))
    port, epmd_port, dist_port = free_port(), free_port(), free_port()
    log_path = os.path.join(directory, "rabbitmq.log")
    with open(os.path.join(directory, "enabled_plugins"), "w") as f:
        f.write("[].\n")
    env = dict(os.environ, HOME=directory, ERL_EPMD_PORT=str(epmd_port), RABBITMQ_NODE_PORT=str(port),
               RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_DIST_PORT=str(dist_port),
               RABBITMQ_NODENAME="roo-test-%d@localhost" % port, RABBITMQ_BASE=directory,
               RABBITMQ_MNESIA_BASE=os.path.join(directory, "mnesia"), RABBITMQ_LOG_BASE=directory,
               RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(directory, "enabled_plugins"),
               RABBITMQ_CONFIG_FILE=os.path.join(directory, "rabbitmq"), RABBITMQ_LOGS="-")
    with open(log_path, "wb") as log:
        epmd = subprocess.Popen([EPMD, "-port", str(epmd_port), "-address", "127.0.0.1"], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, env=env)
        proc = subprocess.Popen([RABBITMQ_SERVER], stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
                                cwd=directory)
    server = Server(proc, port, directory, extra=[epmd])
    try:
        _wait_port(port, proc, "rabbitmq-server", log_path, timeout=120)
        _wait_amqp(port, log_path)
        yield server
    finally:
        server.stop()


def _wait_amqp(port, log_path):
    import pika
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port)).close()
            return
        except pika.exceptions.AMQPError:
            if time.monotonic() > deadline:
                pytest.fail("rabbitmq does not accept AMQP connections: %s" % _tail(log_path), pytrace=False)
            time.sleep(0.2)
