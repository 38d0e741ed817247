"""The network surface, attacked: strangers on the control and data ports of a cluster with a secret, a wrong
secret, the external channel with and without its secret, forged log lines, oversized headers on every port
(RSS stays bounded) and a worker out of descriptors (no spin).

Protocols as docs/cluster.md and docs/running.md (Security) describe them: cluster frames are
`u32 BE length | u8 type | body`; external frames `u32 BE length | u16 BE id | payload`.
"""
import hashlib
import hmac
import os
import pickle
import resource
import socket
import ssl
import struct
import subprocess
import time

import pytest

from conftest import (EXTERNAL_CLEAN_SHUTDOWN, EXTERNAL_CLUSTER_STATUS_QUERY, connect, external_request, frame,
                      free_port, send_frames, wait_until)
from test_cluster import KEYS, PID_APP, assert_pid_output, pid_frames, send_spread

AUTH_CHALLENGE, AUTH_PROOF, AUTH_REFUSED = 40, 41, 42
DATA_HELLO, DATA = 32, 33


def write_secret(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text + "\n")
    os.chmod(str(path), 0o600)
    return str(path)


def cluster_frame(msg_type, body=b""):
    return struct.pack(">IB", 1 + len(body), msg_type) + body


def read_all(sock, timeout=3.0):
    """Every byte the peer sends until it closes (or `timeout` passes)."""
    sock.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


def split_frames(data):
    frames, at = [], 0
    while at + 4 <= len(data):
        (n,) = struct.unpack(">I", data[at:at + 4])
        frames.append(data[at + 4:at + 4 + n])
        at += 4 + n
    assert at == len(data), "a partial frame: %r" % data
    return frames


def assert_only_a_refusal(received, reason):
    """A challenge (type 40, 32 random bytes) and an auth-refused naming `reason`; nothing else."""
    frames = split_frames(received)
    assert [f[0] for f in frames] == [AUTH_CHALLENGE, AUTH_REFUSED], received
    assert len(frames[0]) == 33
    assert frames[1][1:] == struct.pack(">I", len(reason)) + reason.encode()


def hello_body(name, app_fingerprint):
    def endpoint(port):
        return struct.pack(">I", 9) + b"127.0.0.1" + struct.pack(">H", port)
    name = name.encode()
    return (struct.pack(">I", len(name)) + name + endpoint(1) + endpoint(2) + b"\x00" +
            struct.pack(">I", len(app_fingerprint)) + app_fingerprint.encode())


def proof(secret, context, role, connector_nonce, acceptor_nonce):
    message = context.encode() + b"\x00" + bytes([role]) + connector_nonce + acceptor_nonce
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def secured_cluster(cluster, receiver, tmp_path, size=2, **kwargs):
    out = receiver()
    secret = write_secret(tmp_path, "cluster.secret", "right horse battery staple")
    c = cluster(PID_APP, size, out.address, sources=["Keys"], app_args=["--cluster-secret-file", secret], **kwargs)
    return c, out


def test_stranger_on_a_forming_cluster_learns_nothing_and_gets_no_events(cluster, receiver, tmp_path):
    c, out = secured_cluster(cluster, receiver, tmp_path, order=[0], ready=False)
    port = int(c.initializer.control.rsplit(":", 1)[1])
    assert wait_until(lambda: _listening(port), 20)
    # 1. A forged hello, as a worker of this application would send it, without authenticating.
    with connect(port) as s:
        s.sendall(cluster_frame(1, hello_body("intruder", "anything")))
        assert_only_a_refusal(read_all(s), "a cluster secret is required")
    # 2. A handshake with a wrong secret, then the hello.
    with connect(port) as s:
        s.settimeout(5)
        nonce = os.urandom(32)
        s.sendall(cluster_frame(AUTH_CHALLENGE, nonce))
        challenge = split_frames(_recv_frame(s))[0]
        assert challenge[0] == AUTH_CHALLENGE
        forged = proof("wrong", "roo cluster control v1", 1, nonce, challenge[1:])
        s.sendall(cluster_frame(AUTH_PROOF, forged) + cluster_frame(1, hello_body("intruder", "anything")))
        # No proof comes back: the acceptor proves itself only after the connector's proof checked out, so a
        # stranger cannot obtain a proof for a nonce it chose.
        frames = split_frames(read_all(s))
        assert [f[0] for f in frames] == [AUTH_REFUSED]
        assert frames[0][5:] == b"the cluster secret does not match"
    assert c.initializer.wait_for_log("cluster: refused control connection from 127.0.0.1:", 5)
    # The real worker joins; the cluster is the two of them and its output is exact.
    c.start_member(1)
    c.wait_ready()
    status = c.status()
    assert (status["worker_count"], status["worker_names"]) == (2, ["initializer", "worker1"]), status
    send_spread(pid_frames(3), c.in_addresses("Keys"))
    assert out.wait_for(lambda r: len(r.lines()) >= 3 * len(KEYS), timeout=20)
    out.wait_quiet(0.3)
    assert_pid_output(out.lines(), 3, c.pids())
    assert "intruder" not in c.initializer.stderr()
    c.stop()


def _listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _recv_frame(s):
    header = b""
    while len(header) < 4:
        header += s.recv(4 - len(header))
    (n,) = struct.unpack(">I", header)
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return header + body


def test_a_worker_with_the_wrong_secret_is_refused_with_a_line_on_both_sides(cluster, receiver, tmp_path):
    c, out = secured_cluster(cluster, receiver, tmp_path, order=[0], ready=False)
    wrong = write_secret(tmp_path, "wrong.secret", "wrong")
    control = c.initializer.control
    c.app_args = ["--cluster-secret-file", wrong]
    stranger = c.start_extra("worker1")
    assert stranger.proc.wait(timeout=20) == 1
    assert ("roo run: unable to join the cluster at %s: the initializer's cluster secret differs from this "
            "worker's\n" % control) in stranger.stderr()
    assert c.initializer.wait_for_log(": its cluster secret differs from this worker's", 5)
    # The right secret joins.
    c.app_args = ["--cluster-secret-file", str(tmp_path / "cluster.secret")]
    c.start_member(1)
    c.wait_ready()
    send_spread(pid_frames(2), c.in_addresses("Keys"))
    assert out.wait_for(lambda r: len(r.lines()) >= 2 * len(KEYS), timeout=20)
    out.wait_quiet(0.3)
    assert_pid_output(out.lines(), 2, c.pids())
    c.stop()


class Evil(object):
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, ("touch %s" % self.path,))


def test_garbage_on_the_data_port_never_reaches_pickle(cluster, receiver, tmp_path):
    c, out = secured_cluster(cluster, receiver, tmp_path)
    marker = tmp_path / "unpickled"
    evil = pickle.dumps(Evil(str(marker)))
    # One hop entry whose key is "pickled": reading it would call pickle.loads on the evil bytes.
    batch = (struct.pack(">IHHBBI", 1, 0, 0, 1, 2, len(evil)) + evil + struct.pack(">I", 0))
    data_port = int(c[1].data.rsplit(":", 1)[1])
    with connect(data_port) as s:
        s.sendall(cluster_frame(DATA_HELLO, struct.pack(">I", 0)) + cluster_frame(DATA, batch))
        assert_only_a_refusal(read_all(s), "a cluster secret is required")
    assert c[1].wait_for_log("cluster: refused data connection from 127.0.0.1:", 5)
    time.sleep(0.5)
    assert not marker.exists()
    send_spread(pid_frames(2), c.in_addresses("Keys"))
    assert out.wait_for(lambda r: len(r.lines()) >= 2 * len(KEYS), timeout=20)
    out.wait_quiet(0.3)
    assert_pid_output(out.lines(), 2, c.pids())
    assert not marker.exists()
    c.stop()


def test_roo_run_workers_makes_its_own_secret_and_removes_it(roo_bin, receiver, tmp_path):
    out = receiver()
    port = free_port()
    proc = subprocess.Popen([roo_bin, "run", "--workers", "2", PID_APP, "--in", "Keys@127.0.0.1:%d" % port,
                             "--out", out.address], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env=_env(), cwd=str(tmp_path))
    try:
        secret = None

        def secret_file():
            nonlocal secret
            for pid in _children(proc.pid):
                args = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
                if b"--cluster-secret-file" in args:
                    secret = args[args.index(b"--cluster-secret-file") + 1].decode()
                    return True
            return False
        assert wait_until(secret_file, 20)
        assert os.stat(secret).st_mode & 0o777 == 0o600
        assert len(open(secret).read()) == 64
        send_frames(port, pid_frames(1))
        assert out.wait_for(lambda r: len(r.lines()) >= len(KEYS), timeout=30)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read().decode()
    assert not os.path.exists(secret)
    assert not os.path.exists(os.path.dirname(secret))


def _env():
    from conftest import worker_env
    return worker_env()


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open("/proc/%s/stat" % entry).read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


# ---- the external channel ----------------------------------------------------------------------------------------

def one_worker(workers, receiver, tmp_path, *extra):
    out = receiver()
    external = "127.0.0.1:%d" % free_port()
    w = workers.run(PID_APP, "--in", "Keys@127.0.0.1:%d" % free_port(), "--out", out.address,
                    "--external", external, *extra)
    return w, external


def test_six_bytes_no_longer_stop_a_worker_with_an_external_secret(workers, receiver, tmp_path, roo_bin):
    secret = write_secret(tmp_path, "external.secret", "ext-secret")
    w, external = one_worker(workers, receiver, tmp_path, "--external-secret-file", secret)
    got = external_request(external, EXTERNAL_CLEAN_SHUTDOWN, answer=True)
    assert got == (203, b"this worker's external channel needs the external secret (--external-secret-file)")
    assert w.wait_for_log("cluster: refused external connection from 127.0.0.1:", 5)
    assert "it did not authenticate (it sent message id 3 first; the external channel has a secret)" in w.stderr()
    time.sleep(0.5)
    assert w.proc.poll() is None
    # roo shutdown without the secret says why, and the worker keeps running.
    refused = subprocess.run([roo_bin, "shutdown", "--external", external], capture_output=True, timeout=20)
    assert refused.returncode == 1
    assert refused.stderr.decode() == (
        "roo shutdown: unable to shut down the cluster at %s: the worker refused: this worker's external channel "
        "needs the external secret (--external-secret-file)\n" % external)
    wrong = write_secret(tmp_path, "wrong.secret", "nope")
    bad = subprocess.run([roo_bin, "ctl", "--external", external, "--type", "cluster-status-query", "--json",
                          "--external-secret-file", wrong], capture_output=True, timeout=20)
    assert bad.returncode == 1
    assert bad.stderr.decode() == ("roo ctl: unable to authenticate to %s: the worker's external secret differs "
                                   "from this one (--external-secret-file)\n" % external)
    status = subprocess.run([roo_bin, "ctl", "--external", external, "--type", "cluster-status-query", "--json",
                             "--external-secret-file", secret], capture_output=True, timeout=20)
    assert status.returncode == 0, status.stderr
    assert b'"worker_count":1' in status.stdout
    # The environment variable works as the flag does.
    env = dict(os.environ, ROO_EXTERNAL_SECRET_FILE=secret)
    stop = subprocess.run([roo_bin, "shutdown", "--external", external], capture_output=True, timeout=20, env=env)
    assert stop.returncode == 0, stop.stderr
    assert w.wait(timeout=20) == 0


def test_printed_text_cannot_forge_log_lines(workers, receiver, tmp_path, roo_bin):
    w, external = one_worker(workers, receiver, tmp_path)
    forged = "hi\n2026-01-01 00:00:00.000 E roo.cluster initializer: forged\r\x1b[2J"
    sent = subprocess.run([roo_bin, "ctl", "--external", external, "--type", "print", "--message", forged],
                          capture_output=True, timeout=20)
    assert sent.returncode == 0, sent.stderr
    expected = "$$$ ExternalPrint: hi\\n2026-01-01 00:00:00.000 E roo.cluster initializer: forged\\r\\x1b[2J $$$"
    assert w.wait_for_log(expected, 5)
    assert not any(line.startswith("2026-01-01") for line in w.stderr().splitlines())
    assert w.stop() == 0


# ---- limits on every port ----------------------------------------------------------------------------------------

def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_headers_announcing_64_mib_on_every_port_keep_memory_bounded(cluster, receiver, tmp_path):
    c, out = secured_cluster(cluster, receiver, tmp_path)
    w = c[1]
    ports = [int(a.rsplit(":", 1)[1]) for a in (w.data, w.external)] + [w.in_ports["Keys"]]
    ports.append(int(c.initializer.control.rsplit(":", 1)[1]))
    before = {m.pid: rss_kib(m.pid) for m in c.members}
    sockets = []
    for port in ports:
        for _ in range(24):
            s = connect(port)
            s.sendall(struct.pack(">I", 64 * 1024 * 1024) + b"x")
            sockets.append(s)
    time.sleep(1.0)
    after = {m.pid: rss_kib(m.pid) for m in c.members}
    for s in sockets:
        s.close()
    for pid in before:
        assert after[pid] - before[pid] < 50 * 1024, (before, after)
    send_spread(pid_frames(1), c.in_addresses("Keys"))
    assert out.wait_for(lambda r: len(r.lines()) >= len(KEYS), timeout=20)
    c.stop()


def test_a_client_that_never_reads_its_answers_keeps_memory_bounded(workers, receiver, tmp_path, roo_bin):
    # Queries sent for 5 s without reading a reply: the worker stops reading that connection once its output queue
    # holds 4 MiB, instead of queueing answers until it runs out of memory (it reached 1.4 GB in 9 s before).
    w, external = one_worker(workers, receiver, tmp_path)
    host, port = external.rsplit(":", 1)
    flood = connect(int(port))
    flood.setblocking(False)
    query = struct.pack(">IH", 2, EXTERNAL_CLUSTER_STATUS_QUERY) * 4096
    before = rss_kib(w.pid)
    largest = before
    sent = 0
    pending = b""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if not pending:
            pending = query
        try:
            n = flood.send(pending)
            sent += n
            pending = pending[n:]
        except BlockingIOError:
            time.sleep(0.01)
        largest = max(largest, rss_kib(w.pid))
    assert sent > 1024 * 1024, "the client sent only %d bytes of queries" % sent
    assert largest - before < 100 * 1024, (before, largest)
    # The worker still answers another client while the flooding one stays connected.
    status = subprocess.run([roo_bin, "ctl", "--external", external, "--type", "cluster-status-query", "--json"],
                            capture_output=True, timeout=20)
    assert status.returncode == 0, status.stderr
    assert b'"worker_count":1' in status.stdout
    flood.close()
    assert w.stop() == 0


def test_out_of_descriptors_the_acceptor_backs_off_instead_of_spinning(workers, receiver, tmp_path):
    w, external = one_worker(workers, receiver, tmp_path)
    host, port = external.rsplit(":", 1)
    open_now = len(os.listdir("/proc/%d/fd" % w.pid))
    soft, hard = resource.prlimit(w.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(w.pid, resource.RLIMIT_NOFILE, (open_now + 4, hard))
    sockets = [connect(int(port)) for _ in range(20)]
    line = ("cluster: cannot accept connections on the external channel at %s: too many open files; retrying every "
            "1000 ms or less until it can" % external)
    assert w.wait_for_log(line, 5)
    start = cpu_seconds(w.pid)
    time.sleep(2.0)
    used = cpu_seconds(w.pid) - start
    assert used < 0.5, "the worker used %.2f s of CPU in 2 s while out of descriptors" % used
    assert w.stderr().count(line) == 1
    for s in sockets:
        s.close()
    resource.prlimit(w.pid, resource.RLIMIT_NOFILE, (soft, hard))
    assert wait_until(lambda: "cluster: accepting connections on the external channel at %s again" % external
                      in w.stderr(), 10)
    got_id, _ = external_request(external, EXTERNAL_CLUSTER_STATUS_QUERY)
    assert got_id == EXTERNAL_CLUSTER_STATUS_QUERY + 1
    assert w.stop() == 0


# ---- TLS ---------------------------------------------------------------------------------------------------------

def make_certificates(folder, name="roo"):
    """A CA and one certificate it signed (for every worker and tool), made with the openssl command line."""
    folder.mkdir(exist_ok=True)

    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=str(folder))
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=%s test CA" % name)
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=node")
    run("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "node.pem", "-days", "2")
    return ["--tls-cert", str(folder / "node.pem"), "--tls-key", str(folder / "node.key"),
            "--tls-ca", str(folder / "ca.pem")]


def test_mutual_tls_on_control_data_and_external(cluster, receiver, tmp_path, roo_bin):
    tls = make_certificates(tmp_path / "pki")
    secret = write_secret(tmp_path, "cluster.secret", "both at once")
    out = receiver()
    c = cluster(PID_APP, 2, out.address, sources=["Keys"], app_args=tls + ["--cluster-secret-file", secret])
    send_spread(pid_frames(3), c.in_addresses("Keys"))
    assert out.wait_for(lambda r: len(r.lines()) >= 3 * len(KEYS), timeout=20)
    out.wait_quiet(0.3)
    assert_pid_output(out.lines(), 3, c.pids())
    # A health check that opens the external port and closes it unused (Kubernetes' tcpSocket probe) is no
    # refusal worth a warning, as without TLS.
    probes = []
    for _ in range(3):
        with connect(int(c[1].external.rsplit(":", 1)[1])) as s:
            probes.append(s.getsockname()[1])
    # Plain TCP on each cluster port: the handshake fails, that connection is refused, the cluster goes on.
    for port_of in (lambda m: m.data, lambda m: m.external):
        port = int(port_of(c[1]).rsplit(":", 1)[1])
        with connect(port) as s:
            s.sendall(cluster_frame(DATA_HELLO, struct.pack(">I", 0)))
            read_all(s, 3.0)
    assert c[1].wait_for_log("cluster: refused data connection from 127.0.0.1:", 5)
    assert c[1].wait_for_log("cluster: refused external connection from 127.0.0.1:", 5)
    for port in probes:
        assert "connection from 127.0.0.1:%d:" % port not in c[1].stderr(), c[1].stderr()
    # A TLS client that trusts the CA but presents no certificate is refused on each port, and is answered nothing.
    context = ssl.create_default_context(cafile=tls[tls.index("--tls-ca") + 1])
    context.check_hostname = False
    for kind, member, address in (("control", c.initializer, c.initializer.control), ("data", c[1], c[1].data),
                                  ("external", c[1], c[1].external)):
        with connect(int(address.rsplit(":", 1)[1])) as raw:
            local = raw.getsockname()[1]
            got = b""
            try:
                with context.wrap_socket(raw) as s:
                    s.sendall(struct.pack(">IH", 2, EXTERNAL_CLUSTER_STATUS_QUERY))
                    got = s.recv(1024)
            except (ssl.SSLError, OSError):
                pass
            assert got == b"", (kind, got)
        assert member.wait_for_log(
            "cluster: refused %s connection from 127.0.0.1:%d: TLS failed: " % (kind, local), 5), kind
    # A worker or a client with a certificate from another CA is refused too.
    stranger = make_certificates(tmp_path / "other", "other")
    c.app_args = stranger + ["--cluster-secret-file", secret]
    intruder = c.start_extra("worker9")
    assert intruder.proc.wait(timeout=20) == 1
    assert ("roo run: unable to join the cluster at %s: TLS with the initializer failed: "
            % c.initializer.control) in intruder.stderr(), intruder.stderr()
    bad = subprocess.run([roo_bin, "ctl", "--external", c[1].external, "--type", "cluster-status-query", "--json"]
                         + stranger, capture_output=True, timeout=20)
    assert bad.returncode == 1
    assert bad.stderr.decode().startswith("roo ctl: unable to set up TLS with %s: " % c[1].external), bad.stderr
    status = subprocess.run([roo_bin, "ctl", "--external", c[1].external, "--type", "cluster-status-query",
                             "--json"] + tls, capture_output=True, timeout=20)
    assert status.returncode == 0, status.stderr
    assert b'"worker_names":["initializer","worker1"]' in status.stdout
    stop = subprocess.run([roo_bin, "shutdown", "--external", c[0].external] + tls, capture_output=True, timeout=20)
    assert stop.returncode == 0, stop.stderr
    c.stopped = True
    assert c.wait_exit() == {"initializer": 0, "worker1": 0}
