"""The HTTP request/response source (Bruco mode): real `roo run` workers driven by http.client.

The app (apps/http_echo.py) answers each POST with its body in upper case; "json:..." bodies with 201 and a JSON
content type.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time

from conftest import APPS, free_port, wait_until

HTTP_ECHO = os.path.join(APPS, "http_echo.py")


def post(conn, body, headers=None):
    conn.request("POST", "/", body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.getheader("Content-Type"), response.read()


def start(workers, *args):
    port = free_port()
    worker = workers.run(HTTP_ECHO, "--http", "127.0.0.1:%d" % port, *args)
    return worker, port


def test_each_post_is_answered_with_the_pipelines_reply(workers):
    worker, port = start(workers)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    assert post(conn, b"hello world") == (200, "text/plain; charset=utf-8", b"HELLO WORLD")
    status, content_type, body = post(conn, b"json:abc")
    assert (status, content_type) == (201, "application/json")
    assert json.loads(body) == {"upper": "ABC"}
    assert post(conn, "grüße".encode("utf-8")) == (200, "text/plain; charset=utf-8", "GRÜSSE".encode("utf-8"))
    conn.request("GET", "/")
    response = conn.getresponse()
    assert (response.status, response.getheader("Allow"), response.read()) == (
        405, "POST", b"only POST is served here\n")
    assert post(conn, b"x" * 4097)[0] == 413  # the app's max_body_bytes is 4096
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    assert post(conn, b"x" * 4096) == (200, "text/plain; charset=utf-8", b"X" * 4096)
    conn.close()
    assert worker.stop() == 0
    assert "http_source 'web': stopped" in worker.stderr()


def test_64_keep_alive_clients_each_sending_50_requests_get_exact_answers(workers):
    worker, port = start(workers)
    wrong = []
    answered = [0]
    lock = threading.Lock()

    def client(index):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(50):
            body = "client %d request %d" % (index, i)
            if i % 10 == 0:
                got = post(conn, ("json:" + body).encode())
                expected = (201, "application/json", json.dumps({"upper": body.upper()}).encode())
            else:
                got = post(conn, body.encode())
                expected = (200, "text/plain; charset=utf-8", body.upper().encode())
            with lock:
                if got != expected:
                    wrong.append((got, expected))
                answered[0] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert wrong == []
    assert answered[0] == 64 * 50
    assert worker.stop() == 0


def test_ignore_response_answers_ok_at_once(workers):
    worker, port = start(workers, "--ignore-response")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(5):
        assert post(conn, b"event %d" % i) == (200, "text/plain", b"ok")
    conn.close()
    assert worker.stop() == 0
    assert "5 events in, 5 outputs written" in worker.stderr()


def test_two_workers_serve_the_same_port(workers, roo_bin):
    port = free_port()
    supervisor = workers.spawn([roo_bin, "run", "--workers", "2", HTTP_ECHO, "--http", "127.0.0.1:%d" % port],
                               label="supervisor")
    assert wait_until(lambda: supervisor.stderr().count("Application is ready to work!") == 2 or
                      supervisor.proc.poll() is not None, 30), supervisor.stderr()
    assert supervisor.stderr().count("Application is ready to work!") == 2, supervisor.stderr()
    pids = set()
    for _ in range(100):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        status, _, body = post(conn, b"pid", {"Connection": "close"})
        assert status == 200
        pids.add(int(body))
        assert post_upper(port, "from anywhere") == b"FROM ANYWHERE"
        conn.close()
        if len(pids) == 2:
            break
    assert len(pids) == 2  # the kernel spread new connections over both workers
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait() == 0


def post_upper(port, text):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        return post(conn, text.encode())[2]
    finally:
        conn.close()


def test_a_reply_sink_for_an_unknown_source_and_an_unanswered_source_are_config_errors(workers):
    port = free_port()
    unknown = workers.run(HTTP_ECHO, "--http", "127.0.0.1:%d" % port, "--reply-source", "nope", ready=False)
    assert unknown.wait() == 2  # a usage error
    assert "roo run: unable to run sink 'sink 0': it answers source 'nope', but the application has no source of that name" \
        in unknown.stderr()
    unanswered = workers.run(HTTP_ECHO, "--http", "127.0.0.1:%d" % port, "--tcp-sink", "127.0.0.1:9",
                             ready=False)
    assert unanswered.wait() == 2
    assert "roo run: unable to run source 'web': nothing answers its requests; end its pipeline with " \
           "to_sink(HttpReplySinkConfig('web', encoder)), or pass ignore_response=True" in unanswered.stderr()


def read_answer(sock, end=None):
    """Bytes from `sock` until `end` is in them (None: until the server closes)."""
    data = b""
    while end is None or end not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_expect_100_continue_is_answered_before_the_body(workers):
    """A client that waits for `100 Continue` before sending its body gets it once the header is accepted; a body
    announced over the limit gets 413 instead."""
    worker, port = start(workers)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: roo\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n")
        assert read_answer(sock, b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"y" * 2000 + b"POST / HTTP/1.1\r\nHost: roo\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        answers = read_answer(sock)
    first, second = answers.split(b"HTTP/1.1 200 OK")[1:]
    assert first.endswith(b"\r\n\r\n" + b"Y" * 2000) and second.endswith(b"\r\n\r\nOK")  # keep-alive goes on
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: roo\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        assert read_answer(sock).startswith(b"HTTP/1.1 413 Payload Too Large\r\n")  # the app's limit is 4096
    assert worker.stop() == 0


def test_curl_sending_expect_100_continue_does_not_wait(workers, tmp_path):
    """curl with `Expect: 100-continue` (its own choice for bodies over 1 MiB; older curl's over 1 KiB) waits up to
    1 s for `100 Continue` before sending the body anyway: the source answers at once."""
    worker, port = start(workers)
    body = tmp_path / "body"
    body.write_bytes(b"z" * 3000)
    began = time.monotonic()
    curl = subprocess.run(["curl", "-sS", "-v", "-H", "Expect: 100-continue", "--data-binary", "@%s" % body,
                           "http://127.0.0.1:%d/" % port], capture_output=True, timeout=30)
    took = time.monotonic() - began
    assert curl.returncode == 0, curl.stderr
    assert curl.stdout == b"Z" * 3000
    assert b"> Expect: 100-continue" in curl.stderr and b"< HTTP/1.1 100 Continue" in curl.stderr, curl.stderr
    assert took < 0.5, took  # curl's own wait is 1 s
    assert worker.stop() == 0
