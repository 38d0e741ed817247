"""Fixtures for end-to-end tests: real `roo` worker processes over loopback.

* `roo_bin`: the `roo` binary (env ROO_BIN, default <repo>/build/src/cli/roo).
* `free_port()`: a TCP port nothing listens on right now.
* `workers`: starts workers (stderr to a file), waits for the ready line, and on
  teardown stops them (SIGTERM, then SIGKILL after a deadline); a failed test gets
  every worker's log printed with its report.
* `receiver()` / `Receiver`: a listening socket on a thread collecting the bytes of
  every connection, with `wait_for(predicate, timeout)`.
* `send_frames`, `frame`: write length-prefixed frames with a plain socket.
* `kafka`: a real Kafka broker for the session, with produce/consume helpers (kafka_fixtures.py).
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from kafka_fixtures import kafka  # noqa: F401  (the session's Kafka broker: kafka_fixtures.py)
from loopback_ports import free_port  # noqa: F401  (tests import it from here)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples")
APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")
READY_LINE = "|~~ INIT PHASE III: Application is ready to work! ~~|"

# Ready within this many seconds or the test fails; generous for a loaded 2-core box.
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

sys.path.insert(0, EXAMPLES)


def _roo_path():
    return os.environ.get("ROO_BIN") or os.path.join(REPO, "build", "src", "cli", "roo")


@pytest.fixture(scope="session")
def roo_bin():
    path = _roo_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("roo binary not found at %s: build it (cmake --build build --target roo) "
                    "or point ROO_BIN at it" % path, pytrace=False)
    return path


@pytest.fixture(scope="session")
def machida_bin(roo_bin):
    path = os.path.join(os.path.dirname(roo_bin), "machida")
    if not os.path.exists(path):
        pytest.fail("machida not found next to %s (the roo build makes it a symlink)" % roo_bin,
                    pytrace=False)
    return path


def worker_env(extra_pythonpath=()):
    """The environment for a worker: the repo's python/ (the wallaroo package) on PYTHONPATH."""
    env = dict(os.environ)
    parts = list(extra_pythonpath) + [os.path.join(REPO, "python")]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def wait_until(predicate, timeout, interval=0.02):
    """Poll `predicate` until true or `timeout` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class Worker(object):
    """One worker process; stderr and stdout go to files under the test's tmp dir."""

    def __init__(self, argv, log_dir, label, env=None, cwd=None):
        self.argv = list(argv)
        self.label = label
        self.stderr_path = os.path.join(log_dir, "%s.stderr" % label)
        self.stdout_path = os.path.join(log_dir, "%s.stdout" % label)
        self._stderr = open(self.stderr_path, "wb")
        self._stdout = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self._stdout, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL, env=env or worker_env(),
                                     cwd=cwd or REPO)

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Wait for the ready line; fail (with the log) if the worker exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_LINE in self.stderr():
                return self
            if self.proc.poll() is not None:
                pytest.fail("worker %s exited with %s before it was ready; stderr:\n%s"
                            % (self.label, self.proc.returncode, self.stderr()), pytrace=False)
            time.sleep(0.02)
        pytest.fail("worker %s not ready after %.0f s; stderr:\n%s"
                    % (self.label, timeout, self.stderr()), pytrace=False)

    def wait_for_log(self, text, timeout=5.0):
        """True once `text` appears in stderr within `timeout` seconds."""
        return bool(wait_until(lambda: text in self.stderr(), timeout))

    def send_signal(self, signum):
        self.proc.send_signal(signum)

    def wait(self, timeout=STOP_TIMEOUT):
        """The exit code; fails the test if the worker does not exit in time."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("worker %s did not exit within %.0f s; stderr:\n%s"
                        % (self.label, timeout, self.stderr()), pytrace=False)

    def stop(self, signum=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal the worker and return its exit code."""
        if self.proc.poll() is None:
            self.send_signal(signum)
        return self.wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        """Teardown: SIGTERM, SIGKILL after STOP_TIMEOUT."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        self._stderr.close()
        self._stdout.close()


class Workers(object):
    """Factory for workers of one test; all are stopped at teardown."""

    def __init__(self, roo_bin, tmp_path):
        self.roo_bin = roo_bin
        self.tmp_path = str(tmp_path)
        self.started = []

    def spawn(self, argv, label=None, env=None):
        """Start `argv` without waiting for anything."""
        label = label or "worker%d" % len(self.started)
        worker = Worker(argv, self.tmp_path, label, env=env)
        self.started.append(worker)
        return worker

    def run(self, app_path, *args, ready=True, label=None, env=None):
        """`roo run app_path args...`, waiting for the ready line unless ready=False."""
        worker = self.spawn([self.roo_bin, "run", app_path] + list(args), label=label, env=env)
        return worker.wait_ready() if ready else worker

    def machida(self, module, module_dir, *args, ready=True, label=None):
        """`machida --application-module module args...` with module_dir on PYTHONPATH."""
        machida = os.path.join(os.path.dirname(self.roo_bin), "machida")
        worker = self.spawn([machida, "--application-module", module] + list(args),
                            label=label, env=worker_env([module_dir]))
        return worker.wait_ready() if ready else worker

    def close(self):
        for worker in self.started:
            worker.close()

    def logs(self):
        parts = []
        for worker in self.started:
            parts.append("---- %s: %s (exit %s)\n%s" % (
                worker.label, " ".join(worker.argv), worker.proc.returncode, worker.stderr()))
        return "\n".join(parts)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture
def workers(roo_bin, tmp_path, request):
    factory = Workers(roo_bin, tmp_path)
    yield factory
    factory.close()
    failed = any(getattr(getattr(request.node, "rep_" + when, None), "failed", False)
                 for when in ("setup", "call"))
    if failed and factory.started:
        request.node.add_report_section("teardown", "worker logs", factory.logs())


class Receiver(object):
    """A listening socket on a thread; keeps every accepted connection's bytes.

    `data()` is all bytes in arrival order per connection, connections concatenated
    in accept order (use it when one connection is expected); `per_connection()`
    gives them separately.
    """

    def __init__(self, port=0, host="127.0.0.1"):
        self._lock = threading.Lock()
        self._buffers = []
        self._stop = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self._reading = threading.Event()
        self._reading.set()
        self.host, self.port = self._listener.getsockname()[:2]
        self.address = "%s:%d" % (self.host, self.port)
        self._threads = [threading.Thread(target=self._accept_loop, daemon=True)]
        self._threads[0].start()

    def _accept_loop(self):
        while not self._stop:
            try:
                conn, _peer = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                index = len(self._buffers)
                self._buffers.append(bytearray())
            t = threading.Thread(target=self._read_loop, args=(conn, index), daemon=True)
            self._threads.append(t)
            t.start()

    def _read_loop(self, conn, index):
        conn.settimeout(0.05)
        with conn:
            while not self._stop:
                if not self._reading.wait(0.05):
                    continue
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                with self._lock:
                    self._buffers[index].extend(chunk)

    def pause_reading(self):
        """Stop reading every connection (accepting goes on): the senders' buffers fill, as with a stuck peer."""
        self._reading.clear()

    def resume_reading(self):
        self._reading.set()

    def connections(self):
        with self._lock:
            return len(self._buffers)

    def per_connection(self):
        with self._lock:
            return [bytes(b) for b in self._buffers]

    def data(self):
        return b"".join(self.per_connection())

    def lines(self):
        """Complete newline-terminated lines of every connection (partial tails left out)."""
        result = []
        for buf in self.per_connection():
            result.extend(buf.decode("utf-8").split("\n")[:-1])
        return result

    def frames(self):
        """Complete u32 BE length-prefixed payloads of every connection."""
        result = []
        for buf in self.per_connection():
            at = 0
            while at + 4 <= len(buf):
                (n,) = struct.unpack(">I", buf[at:at + 4])
                if at + 4 + n > len(buf):
                    break
                result.append(buf[at + 4:at + 4 + n])
                at += 4 + n
        return result

    def wait_for(self, predicate, timeout=10.0):
        """Poll `predicate(self)` until true or timeout; return the last value."""
        return wait_until(lambda: predicate(self), timeout)

    def wait_for_lines(self, count, timeout=10.0):
        """Wait until at least `count` lines arrived; return all lines."""
        self.wait_for(lambda r: len(r.lines()) >= count, timeout)
        return self.lines()

    def wait_quiet(self, quiet=0.3, timeout=5.0):
        """Wait until no new byte arrived for `quiet` seconds (to catch extra output)."""
        last = [-1, time.monotonic()]

        def settled():
            size = sum(len(b) for b in self.per_connection())
            now = time.monotonic()
            if size != last[0]:
                last[0], last[1] = size, now
                return False
            return now - last[1] >= quiet
        return wait_until(settled, timeout)

    def close(self):
        self._stop = True
        self._listener.close()
        for t in self._threads:
            t.join(timeout=2)


@pytest.fixture
def receiver():
    """receiver(port=0) -> a started Receiver; all are closed at teardown."""
    made = []

    def make(port=0):
        r = Receiver(port)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def frame(payload):
    """u32 BE length | payload."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return struct.pack(">I", len(payload)) + payload


def connect(port, host="127.0.0.1", timeout=5.0):
    """A connected client socket, retried until the listener exists or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection((host, port), timeout=timeout)
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def send_frames(port, frames, host="127.0.0.1"):
    """Connect, send every frame (bytes, header included), close cleanly."""
    with connect(port, host) as s:
        s.sendall(b"".join(frames))


def peer_closed(s, timeout=5.0):
    """True if the peer closes `s` (recv returns b'' or the connection resets) in time."""
    s.settimeout(timeout)
    try:
        return s.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# ---------------------------------------------------------------------------------------------------------------
# Clusters: `cluster` starts N workers of one app by hand (the initializer and worker1..worker<N-1>), each with its
# own free ports, and stops them at teardown. The external channel client (`external_request`/`external_query`)
# speaks Wallaroo's framing `u32 BE (2+n) | u16 BE msg_id | payload`.
# ---------------------------------------------------------------------------------------------------------------
CLUSTER_READY_TIMEOUT = 20.0

EXTERNAL_PRINT = 1
EXTERNAL_CLEAN_SHUTDOWN = 3
EXTERNAL_PARTITION_QUERY = 7
EXTERNAL_CLUSTER_STATUS_QUERY = 9
EXTERNAL_PARTITION_COUNT_QUERY = 12
EXTERNAL_SOURCE_IDS_QUERY = 14
EXTERNAL_STATE_ENTITY_QUERY = 17
EXTERNAL_STATE_ENTITY_COUNT_QUERY = 21
EXTERNAL_CLUSTER_STATE_ENTITY_COUNT_QUERY = 25


def _recv_exact(s, n):
    data = bytearray()
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the peer closed after %d of %d bytes" % (len(data), n))
        data.extend(chunk)
    return bytes(data)


def split_address(address):
    host, port = address.rsplit(":", 1)
    return host, int(port)


def external_request(address, msg_id, payload=b"", answer=True, timeout=5.0):
    """Send one external-channel message; return (msg_id, payload bytes) of the answer, or None if answer=False."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    host, port = split_address(address)
    with connect(port, host, timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">IH", 2 + len(payload), msg_id) + payload)
        if not answer:
            return None
        (length,) = struct.unpack(">I", _recv_exact(s, 4))
        body = _recv_exact(s, length)
        return struct.unpack(">H", body[:2])[0], body[2:]


def external_query(address, msg_id, payload=b""):
    """A query (9, 17, 21, 25, ...) answered with msg_id + 1 and a JSON payload; returns the parsed JSON."""
    import json
    got_id, body = external_request(address, msg_id, payload)
    assert got_id == msg_id + 1, "query %d answered with id %d: %r" % (msg_id, got_id, body)
    return json.loads(body.decode("utf-8"))


class ClusterMember(object):
    """One worker of a Cluster: its process (a conftest Worker) and its addresses."""

    def __init__(self, index, name, host, in_ports, external, control, data):
        self.index = index
        self.name = name
        self.host = host
        self.in_ports = in_ports          # {source name: port}
        self.external = external          # "host:port"
        self.control = control            # its own control listen address
        self.data = data                  # its own data listen address
        self.worker = None                # set when started
        self.joining = False              # started with --join, into a running cluster (Cluster.join)
        self.join_via = 0                 # whose control address --join names

    @property
    def proc(self):
        return self.worker.proc

    @property
    def pid(self):
        return self.worker.pid

    def in_address(self, source):
        return self.host, self.in_ports[source]

    def stderr(self):
        return self.worker.stderr()

    def wait_for_log(self, text, timeout=5.0):
        return self.worker.wait_for_log(text, timeout)

    def argv_for(self, launcher_argv, cluster):
        args = []
        if self.in_ports:
            args += ["--in", ",".join("%s@%s:%d" % (name, self.host, port)
                                      for name, port in self.in_ports.items())]
        args += ["--out", cluster.out]
        if self.index == 0:
            args += ["--cluster-initializer", "--worker-count", str(cluster.size),
                     "--control", self.control, "--data", self.data]
        else:
            args += ["--join" if self.joining else "--control", cluster.members[self.join_via].control,
                     "--my-control", self.control, "--my-data", self.data, "--name", self.name]
        args += ["--external", self.external]
        return launcher_argv + args + list(cluster.app_args)


class Cluster(object):
    """N started workers of one app. members[0] is the initializer, members[i] is worker<i>."""

    def __init__(self, factory, size, out, app_args, check_exit):
        self.factory = factory
        self.size = size
        self.out = out
        self.app_args = list(app_args)
        self.members = []
        self.check_exit = check_exit     # teardown asserts every worker exited 0 (tests may set it False)
        self.stopped = False
        self.base = []                   # the launcher argv before the flags (set by the factory)
        self.env = None
        self.sources = []
        self.prefixes = []
        self._taken = set()

    def port(self):
        """A free port not handed out to this cluster before."""
        while True:
            p = free_port()
            if p not in self._taken:
                self._taken.add(p)
                return p

    def new_member(self, index, name, host, sources):
        return ClusterMember(index, name, host, dict((source, self.port()) for source in sources),
                             "%s:%d" % (host, self.port()), "%s:%d" % (host, self.port()),
                             "%s:%d" % (host, self.port()))

    def start_with_metrics_http(self):
        """Starts every member (of a cluster made with order=[]) with its own `--metrics-http` port, in index order,
        and waits until all are ready; returns the ports by member index."""
        ports = [self.port() for _ in self.members]
        base = self.base
        for index, port in enumerate(ports):
            self.base = base[:2] + ["--metrics-http", "127.0.0.1:%d" % port] + base[2:]
            self.start_member(index)
        self.base = base
        self.wait_ready()
        return ports

    def start_member(self, index):
        """Start members[index] (for tests that start some workers later: order=[...] without it)."""
        m = self.members[index]
        prefix = self.prefixes[index] if index < len(self.prefixes) else []
        m.worker = self.factory.workers.spawn(list(prefix) + m.argv_for(self.base, self), label=m.name,
                                              env=self.env)
        return m

    def start_extra(self, name):
        """Start one more non-initializer named `name` with fresh ports; it is NOT a member (stop() ignores it)."""
        m = self.new_member(len(self.members), name, self.members[0].host, self.sources)
        m.index = max(1, m.index)
        m.worker = self.factory.workers.spawn(m.argv_for(self.base, self), label="extra-" + name, env=self.env)
        return m

    def join(self, name, base=None, app_args=None, via=0):
        """Start a worker that joins the running cluster (`--join <members[via]'s control address>`, fresh ports)
        as the last member; `base`/`app_args` replace the cluster's launcher argv and app flags (another app)."""
        m = self.new_member(len(self.members), name, self.members[0].host, self.sources)
        m.joining = True
        m.join_via = via
        self.members.append(m)
        argv = m.argv_for(self.base if base is None else base, self)
        if app_args is not None:
            argv = argv[:len(argv) - len(self.app_args)] + list(app_args)
        m.worker = self.factory.workers.spawn(argv, label=name, env=self.env)
        return m

    @property
    def initializer(self):
        return self.members[0]

    def __getitem__(self, index):
        return self.members[index]

    def __len__(self):
        return len(self.members)

    def in_addresses(self, source):
        """[(host, port)] of `source` on every worker, initializer first."""
        return [m.in_address(source) for m in self.members]

    def externals(self):
        return [m.external for m in self.members]

    def pids(self):
        return [m.pid for m in self.members]

    def wait_ready(self, members=None, timeout=CLUSTER_READY_TIMEOUT):
        """Wait for the ready line of every member (or of `members`); fail with all logs if one exits first."""
        members = self.members if members is None else members
        deadline = time.monotonic() + timeout
        pending = list(members)
        while pending:
            for m in list(pending):
                if READY_LINE in m.stderr():
                    pending.remove(m)
                elif m.proc.poll() is not None:
                    pytest.fail("cluster worker %s exited with %s before it was ready\n%s"
                                % (m.name, m.proc.returncode, self.logs()), pytrace=False)
            if pending and time.monotonic() >= deadline:
                pytest.fail("cluster workers %s not ready after %.0f s\n%s"
                            % ([m.name for m in pending], timeout, self.logs()), pytrace=False)
            if pending:
                time.sleep(0.02)
        return self

    def wait_exit(self, members=None, timeout=STOP_TIMEOUT):
        """{name: exit code} once every member (or `members`) has exited; fails the test on a deadline."""
        members = self.members if members is None else members
        deadline = time.monotonic() + timeout
        codes = {}
        for m in members:
            try:
                codes[m.name] = m.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[m.name] = None
        if any(code is None for code in codes.values()):
            for m in members:
                m.worker.kill()
            pytest.fail("cluster workers did not exit within %.0f s: %s\n%s"
                        % (timeout, codes, self.logs()), pytrace=False)
        return codes

    def stop(self, via=None, signum=signal.SIGTERM, timeout=STOP_TIMEOUT, expect=0):
        """Signal ONE worker (default: the last one, a non-initializer when N > 1); every worker must exit.

        Returns {name: exit code}; with expect=0 (the default) asserts every live worker exited 0.
        """
        self.stopped = True
        target = self.members[-1 if via is None else via]
        alive = [m for m in self.members if m.proc.poll() is None]
        if target.proc.poll() is None:
            target.worker.send_signal(signum)
        codes = self.wait_exit(alive, timeout)
        if expect is not None:
            assert codes == dict((m.name, expect) for m in alive), \
                "exit codes after signal %d to %s: %s\n%s" % (signum, target.name, codes, self.logs())
        return codes

    def status(self, via=0, roo_details=False):
        """The cluster-status-query answer of members[via]; roo_details adds Roo's fields (missing_workers)."""
        return external_query(self.members[via].external, EXTERNAL_CLUSTER_STATUS_QUERY,
                              b"roo-details" if roo_details else b"")

    def logs(self):
        parts = []
        for m in self.members:
            if m.worker is not None:
                parts.append("---- %s: %s (exit %s)\n%s" % (m.name, " ".join(m.worker.argv),
                                                           m.proc.returncode, m.stderr()))
        return "\n".join(parts)


class ClusterFactory(object):
    """cluster(app, n, ...) starts a Cluster; see `start`."""

    def __init__(self, workers):
        self.workers = workers
        self.started = []

    def __call__(self, *args, **kwargs):
        return self.start(*args, **kwargs)

    def start(self, app, size, out, sources=(), app_args=(), order=None, launcher="roo", module_dir=None,
              hosts=None, prefixes=None, ready=True, check_exit=True, env=None, run_flags=()):
        """Start `size` workers of `app` and (unless ready=False) wait for every ready line.

        app: a Python file for `roo run` (launcher="roo"), or a module name for machida (module_dir goes on
        PYTHONPATH). run_flags: `roo run` flags before APP (e.g. --log-level debug). sources: the TCP
        source names (each worker gets its own free port per source). out: the
        --out address. order: the start order as member indexes (default initializer first). hosts: one listen
        host per worker (default 127.0.0.1). prefixes: one argv prefix per worker (e.g. `ip netns exec ns`).
        """
        hosts = hosts or ["127.0.0.1"] * size
        prefixes = prefixes or [[]] * size
        cluster = Cluster(self, size, out, app_args, check_exit)
        for i in range(size):
            cluster.members.append(cluster.new_member(i, "initializer" if i == 0 else "worker%d" % i, hosts[i],
                                                      sources))
        if launcher == "roo":
            cluster.base = [self.workers.roo_bin, "run"] + list(run_flags) + [app]
            cluster.env = env or worker_env()
        else:
            cluster.base = [os.path.join(os.path.dirname(self.workers.roo_bin), "machida"),
                            "--application-module", app, "--metrics", "127.0.0.1:%d" % cluster.port(),
                            "--ponythreads=1"]
            cluster.env = env or worker_env([module_dir] if module_dir else [])
        cluster.sources = list(sources)
        cluster.prefixes = list(prefixes)
        self.started.append(cluster)
        for i in (order if order is not None else range(size)):
            cluster.start_member(i)
        if ready:
            cluster.wait_ready()
        return cluster

    def teardown(self, test_failed):
        problems = []
        for cluster in self.started:
            if cluster.stopped:
                continue
            alive = [m for m in cluster.members if m.worker is not None and m.proc.poll() is None]
            if not alive:
                continue
            target = cluster.members[-1] if cluster.members[-1] in alive else alive[0]
            target.worker.send_signal(signal.SIGTERM)
            codes = {}
            for m in alive:
                try:
                    codes[m.name] = m.proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    m.worker.kill()
                    codes[m.name] = "no exit within %.0f s" % STOP_TIMEOUT
            if cluster.check_exit and not test_failed and any(c != 0 for c in codes.values()):
                problems.append("exit codes after SIGTERM to %s at teardown: %s\n%s"
                                % (target.name, codes, cluster.logs()))
        return problems


@pytest.fixture
def cluster(workers, request):
    """cluster(app, n, out, sources=..., ...) -> a started Cluster (see ClusterFactory.start).

    At teardown a cluster the test did not stop gets SIGTERM on one worker (the last), and every worker must exit 0
    (unless the test set `cluster.check_exit = False`). Worker logs are attached to a failed test's report by the
    `workers` fixture.
    """
    factory = ClusterFactory(workers)
    yield factory
    test_failed = any(getattr(getattr(request.node, "rep_" + when, None), "failed", False)
                      for when in ("setup", "call"))
    problems = factory.teardown(test_failed)
    assert not problems, "\n".join(problems)
