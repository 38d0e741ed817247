"""The metrics endpoint (--metrics-http, docs/metrics.md "The HTTP endpoint") of real `roo run` workers: /metrics
parsed by prometheus_client's parser and scraped by a real Prometheus server, /healthz and /readyz, the JSON API,
the dashboard's files, and the HTTP server's limits (keep-alive, several clients, 404/405/413/431, the read
timeout, a port in use)."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import APPS, REPO, connect, frame, free_port, peer_closed, send_frames, wait_until, worker_env

ECHO = os.path.join(APPS, "echo.py")
EVENTS = 300
STEPS = {"decoder of source 'src'", "computation 'echo'", "encoder of sink 'sink 0'"}
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
# The server's bounds (src/metrics/metrics_http_server.hpp).
MAX_HEADER_BYTES = 8 * 1024
READ_TIMEOUT_S = 5


def get(port, path, method="GET", headers=None):
    """(status, headers as a dict with lower-case names, body bytes) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def raw_exchange(port, data, timeout=10.0):
    """Sends `data` on a new connection and returns every byte the server sends until it closes."""
    with connect(port) as s:
        s.sendall(data)
        s.settimeout(timeout)
        received = bytearray()
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received.extend(chunk)
        return bytes(received)


def families(port):
    status, headers, body = get(port, "/metrics")
    assert status == 200 and headers["content-type"] == PROMETHEUS_TEXT
    return {family.name: family for family in text_string_to_metric_families(body.decode("utf-8"))}


def values(family, suffix=""):
    """{frozenset(labels): value} of the family's samples named family.name + suffix."""
    return {frozenset(s.labels.items()): s.value for s in family.samples if s.name == family.name + suffix}


def counts(port):
    """(roo_events_total by step, roo_source_events_total by source, roo_sink_events_total by sink) of a scrape."""
    found = families(port)

    def by(name, label):
        # The parser names a counter's family without _total.
        family = found.get(name[:-len("_total")])
        return {} if family is None else {dict(labels)[label]: value
                                          for labels, value in values(family, "_total").items()}
    return by("roo_events_total", "step"), by("roo_source_events_total", "source"), by("roo_sink_events_total", "sink")


def run_echo(workers, receiver, *run_flags, env=None):
    out = receiver()
    in_port, http_port = free_port(), free_port()
    worker = workers.spawn([workers.roo_bin, "run", "--metrics-http", "127.0.0.1:%d" % http_port] + list(run_flags)
                           + [ECHO, "--in", "src@127.0.0.1:%d" % in_port, "--out", out.address],
                           label="echo", env=env)
    worker.wait_ready()
    return worker, http_port, in_port, out


def test_metrics_count_exactly_the_events_sent(workers, receiver):
    worker, http_port, in_port, out = run_echo(workers, receiver)
    send_frames(in_port, [frame("event %d" % i) for i in range(EVENTS)])
    assert len(out.wait_for_lines(EVENTS)) == EVENTS
    # The endpoint shows the metrics thread's latest sample (every 2 s), in which a step counts each event as it
    # passes and sources and sinks their totals as the executor last published them (every 100 ms): wait for a
    # sample after the last event.
    expected = (dict.fromkeys(STEPS, EVENTS), {"src": EVENTS}, {"sink 0": EVENTS})
    wait_until(lambda: counts(http_port) == expected, 10.0, interval=0.25)
    assert counts(http_port) == expected

    found = families(http_port)
    assert found["roo_step_latency_seconds"].type == "histogram"
    assert found["roo_events"].type == "counter"
    assert found["roo_events"].documentation == "Events that entered a step"
    for family in found.values():
        for sample in family.samples:
            assert sample.labels["worker"] == "initializer", sample
    histograms = [f for f in found.values() if f.type == "histogram"]
    assert {f.name for f in histograms} >= {"roo_step_latency_seconds", "roo_pipeline_latency_seconds",
                                            "roo_worker_latency_seconds"}
    for family in histograms:
        check_histogram(family)
    steps = {dict(labels)["step"] for labels in values(found["roo_step_latency_seconds"], "_count")}
    assert steps == STEPS


def check_histogram(family):
    """Every series: its buckets' `le` ascend from 1 µs to +Inf, counts are cumulative, +Inf equals _count, and
    _count is at least 1 (the first event of each batch is timed)."""
    counts = values(family, "_count")
    assert counts, family.name
    for series, count in counts.items():
        buckets = [(s.labels["le"], s.value) for s in family.samples
                   if s.name == family.name + "_bucket"
                   and frozenset((k, v) for k, v in s.labels.items() if k != "le") == series]
        bounds = [float(le) for le, _ in buckets]
        assert bounds[0] == 1e-06 and bounds[-1] == float("inf") and bounds == sorted(bounds), buckets
        cumulative = [value for _, value in buckets]
        assert cumulative == sorted(cumulative), (family.name, series, buckets)
        assert cumulative[-1] == count >= 1, (family.name, series, buckets)
        assert values(family, "_sum")[series] > 0


def test_health_readiness_json_and_the_dashboard(workers, receiver):
    worker, http_port, in_port, out = run_echo(workers, receiver)
    assert get(http_port, "/healthz")[::2] == (200, b"ok\n")
    assert get(http_port, "/readyz")[::2] == (200, b"ready\n")

    status, headers, body = get(http_port, "/api/worker")
    assert (status, headers["content-type"], headers["cache-control"]) == (200, "application/json", "no-store")
    assert json.loads(body)["worker"] == "initializer"
    status, headers, body = get(http_port, "/api/cluster")
    assert (status, headers["content-type"], headers["cache-control"]) == (200, "application/json", "no-store")
    cluster = json.loads(body)
    assert [w["worker"] for w in cluster["workers"]] == ["initializer"] and cluster["missing"] == []

    with open(os.path.join(REPO, "dashboard", "index.html"), "rb") as f:
        index = f.read()
    status, headers, body = get(http_port, "/")
    assert (status, headers["content-type"], body) == (200, "text/html; charset=utf-8", index)
    assert get(http_port, "/index.html?v=2")[::2] == (200, index)


def test_unknown_paths_methods_and_head(workers, receiver):
    worker, http_port, in_port, out = run_echo(workers, receiver)
    for path in ("/nothing", "/metrics/", "/../README.md", "/%2e%2e/README.md", "/.hidden", "/vendor"):
        status, _headers, body = get(http_port, path)
        assert (status, body) == (404, b"not found\n"), path
    # http.client would not send a path that leaves the root as is: a raw request does.
    answer = raw_exchange(http_port, b"GET /../../README.md HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n"), answer
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        status, headers, body = get(http_port, "/metrics", method=method)
        assert (status, headers["allow"], body) == (405, "GET, HEAD", b"method not allowed: use GET or HEAD\n")
    status, headers, body = get(http_port, "/", method="HEAD")
    assert (status, body, int(headers["content-length"])) == (
        200, b"", os.path.getsize(os.path.join(REPO, "dashboard", "index.html")))


def test_keep_alive_with_two_clients_at_once(workers, receiver):
    worker, http_port, in_port, out = run_echo(workers, receiver)
    clients = [http.client.HTTPConnection("127.0.0.1", http_port, timeout=10) for _ in range(2)]
    try:
        for client in clients:
            client.connect()
        sockets = [client.sock for client in clients]
        for _ in range(3):
            for client, path in zip(clients, ("/metrics", "/api/worker")):
                client.request("GET", path)
            for client in clients:
                response = client.getresponse()
                assert response.status == 200 and response.getheader("Connection") is None
                assert response.read()
        # Every answer came on the connection each client opened first: none was closed and opened again.
        assert [client.sock for client in clients] == sockets
    finally:
        for client in clients:
            client.close()
    # Two requests written at once (pipelined) are answered in order on the one connection.
    answer = raw_exchange(http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                     b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 2 and answer.index(b"ok\n") < answer.index(b"ready\n"), answer


def test_limits_on_what_a_client_sends(workers, receiver):
    worker, http_port, in_port, out = run_echo(workers, receiver)
    big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * MAX_HEADER_BYTES + b"\r\n\r\n"
    assert raw_exchange(http_port, big).startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    with_body = b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    assert raw_exchange(http_port, with_body).startswith(b"HTTP/1.1 413 Payload Too Large\r\n")
    assert raw_exchange(http_port, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400 Bad Request\r\n")
    # A request that never ends: the connection closes after the read timeout, and the server still answers.
    with connect(http_port) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        assert peer_closed(s, timeout=READ_TIMEOUT_S + 5)
        assert READ_TIMEOUT_S - 0.5 <= time.monotonic() - started <= READ_TIMEOUT_S + 3
    assert get(http_port, "/healthz")[0] == 200


def test_the_dashboard_folder_comes_from_roo_dashboard_dir(workers, receiver, tmp_path):
    folder = tmp_path / "my-dashboard"
    (folder / "vendor").mkdir(parents=True)
    (folder / "index.html").write_text("<p>mine</p>")
    (folder / "vendor" / "chart.js").write_text("chart()")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(str(tmp_path / "secret.txt"), str(folder / "out.txt"))
    env = worker_env()
    env["ROO_DASHBOARD_DIR"] = str(folder)
    worker, http_port, in_port, out = run_echo(workers, receiver, env=env)
    assert get(http_port, "/")[::2] == (200, b"<p>mine</p>")
    status, headers, body = get(http_port, "/vendor/chart.js")
    assert (status, headers["content-type"], body) == (200, "text/javascript; charset=utf-8", b"chart()")
    assert get(http_port, "/out.txt")[0] == 404
    assert get(http_port, "/vendor/")[0] == 404


def test_a_port_in_use_is_a_one_line_failure(roo_bin):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run([roo_bin, "run", "--log-level", "error", "--metrics-http", "127.0.0.1:%d" % port,
                               ECHO, "--in", "src@127.0.0.1:%d" % free_port(), "--out", "127.0.0.1:1"],
                              capture_output=True, text=True, timeout=30, env=worker_env(), cwd=REPO)
    assert (done.returncode, done.stderr) == (
        1, "roo run: unable to listen on 127.0.0.1:%d for the metrics endpoint (--metrics-http): "
           "address already in use\n" % port)


def test_readyz_says_not_ready_until_the_cluster_forms(cluster, receiver):
    """A 2-worker cluster whose second worker starts late: the initializer serves /healthz at once, /readyz 503
    until worker1 joins, then 200 on both; /api/cluster then shows both workers."""
    out = receiver()
    ports = [free_port(), free_port()]
    c = cluster(ECHO, 2, out.address, sources=["src"], order=[], ready=False)
    launcher = list(c.base)

    def start(index):
        # Each worker its own --metrics-http port: `roo run` flags come before the app in the launcher argv.
        c.base = launcher[:2] + ["--metrics-http", "127.0.0.1:%d" % ports[index]] + launcher[2:]
        c.start_member(index)

    start(0)
    assert wait_until(lambda: probe(ports[0], "/healthz") == 200, 15.0), c.logs()
    assert get(ports[0], "/readyz")[::2] == (503, b"not ready\n")
    time.sleep(1.0)
    assert get(ports[0], "/readyz")[0] == 503
    start(1)
    c.wait_ready()
    for port in ports:
        assert wait_until(lambda: probe(port, "/readyz") == 200, 10.0), c.logs()
    cluster_view = json.loads(get(ports[1], "/api/cluster")[2])
    assert sorted(w["worker"] for w in cluster_view["workers"]) == ["initializer", "worker1"]


def probe(port, path):
    """The status of GET path, or None while nothing listens."""
    try:
        return get(port, path)[0]
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------------------------
# A real Prometheus server (Debian's `prometheus`) scrapes the worker every second.
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture
def prometheus(tmp_path):
    """prometheus(target_port) -> the base URL of a started Prometheus scraping 127.0.0.1:target_port/metrics."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("no prometheus binary: install Debian's prometheus package (tools/setup does)")
    started = []

    def start(target_port):
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                          "scrape_configs:\n  - job_name: roo\n    static_configs:\n"
                          "      - targets: ['127.0.0.1:%d']\n" % target_port)
        log = open(str(tmp_path / "prometheus.log"), "wb")
        proc = subprocess.Popen([binary, "--config.file", str(config), "--storage.tsdb.path", str(tmp_path / "tsdb"),
                                 "--web.listen-address", "127.0.0.1:%d" % port], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, cwd=str(tmp_path))
        started.append((proc, log))
        url = "http://127.0.0.1:%d" % port
        if not wait_until(lambda: proc.poll() is None and probe(port, "/-/ready") == 200, 30.0, interval=0.2):
            pytest.fail("prometheus did not get ready:\n" + (tmp_path / "prometheus.log").read_text(), pytrace=False)
        return url

    yield start
    for proc, log in started:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def prometheus_query(url, query):
    """The vector answer of an instant query: {frozenset(labels but __name__): value}."""
    with urllib.request.urlopen(url + "/api/v1/query?query=" + urllib.parse.quote(query), timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success", answer
    return {frozenset((k, v) for k, v in r["metric"].items() if k != "__name__"): float(r["value"][1])
            for r in answer["data"]["result"]}


def test_a_prometheus_server_scrapes_the_counts(workers, receiver, prometheus):
    worker, http_port, in_port, out = run_echo(workers, receiver)
    url = prometheus(http_port)
    up = {frozenset({"job": "roo", "instance": "127.0.0.1:%d" % http_port}.items()): 1.0}
    assert wait_until(lambda: prometheus_query(url, "up") == up, 20.0, interval=0.5), prometheus_query(url, "up")
    send_frames(in_port, [frame("event %d" % i) for i in range(EVENTS)])
    assert len(out.wait_for_lines(EVENTS)) == EVENTS

    def scraped():
        steps = {dict(labels)["step"]: value for labels, value in prometheus_query(url, "roo_events_total").items()}
        return (steps, prometheus_query(url, "sum(roo_source_events_total)"),
                prometheus_query(url, "sum(roo_sink_events_total)"))
    expected = (dict.fromkeys(STEPS, float(EVENTS)), {frozenset(): float(EVENTS)}, {frozenset(): float(EVENTS)})
    assert wait_until(lambda: scraped() == expected, 20.0, interval=0.5), scraped()
    labels = dict(next(iter(prometheus_query(url, "roo_events_total"))))
    assert (labels["worker"], labels["job"], labels["pipeline"]) == ("initializer", "roo", "src")
    # docs/metrics.md's latency query: every step's p99 since the events came, within the buckets (1 µs .. 10 s).
    p99 = prometheus_query(url, "histogram_quantile(0.99, sum by (le, step) "
                                "(rate(roo_step_latency_seconds_bucket[1m])))")
    assert {dict(labels)["step"] for labels in p99} == STEPS
    assert all(0 < value <= 10 for value in p99.values()), p99
