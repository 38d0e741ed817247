"""Growing and shrinking a running cluster whose source is HTTP (issue 16; docs/cluster.md).

Real workers, real sockets: apps/http_echo.py answers each POST `who:<text>` with `<pid>:<TEXT>` from the worker
that read it (a stateless step: the answer is made where the request was read). Every worker listens on the same
port (SO_REUSEPORT: the kernel spreads new connections over them). `HttpLoad` keeps clients posting on keep-alive
connections, reconnecting every few requests so that new connections reach every listener.

The oracle: every request gets exactly its own answer (status 200, its text in upper case), from a worker that
was a member at the time; the only failures allowed are a connection closed before any byte of an answer came (the
request was not read: a leaving worker closes its idle keep-alive connections), which the client sends again on a
new connection, as HTTP lets a client do. A joiner answers once it is ready; after a worker left, nothing answers
from it. An app that answers through a keyed step is still refused (its answer would be made by the key's new
owner, where no request waits).
"""
import http.client
import os
import threading
import time

import pytest

from conftest import APPS, free_port, wait_until
from test_rescale import EXIT_TIMEOUT, ctl

HTTP_ECHO = os.path.join(APPS, "http_echo.py")
NOT_READ = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)


class HttpLoad(object):
    """`clients` threads posting `who:client <c> request <i>` to 127.0.0.1:`port`, each on a keep-alive connection
    it replaces every `per_connection` requests, until stop()."""

    def __init__(self, port, clients=6, per_connection=10):
        self.port = port
        self.per_connection = per_connection
        self.lock = threading.Lock()
        self.answers = []       # (monotonic time, pid) of every right answer
        self.wrong = []         # (request, what came back) of every other outcome
        self.sent = [0] * clients
        self.resent = 0         # requests sent again after a connection closed before any answer
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(c,), daemon=True) for c in range(clients)]

    def start(self):
        for thread in self._threads:
            thread.start()
        return self

    def _run(self, client):
        conn = None
        i = 0
        while not self._stop.is_set():
            if conn is None or i % self.per_connection == 0:
                if conn is not None:
                    conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            text = "client %d request %d" % (client, i)
            try:
                conn.request("POST", "/", body=("who:" + text).encode())
                response = conn.getresponse()
                status, body = response.status, response.read().decode("utf-8", "replace")
            except NOT_READ:
                with self.lock:
                    self.resent += 1
                conn.close()
                conn = None
                continue  # the same request again, on a new connection
            except Exception as e:  # a timeout, a refused connection: a failure of the test
                with self.lock:
                    self.wrong.append((text, repr(e)))
                conn.close()
                conn = None
                i += 1
                continue
            pid, _, echoed = body.partition(":")
            with self.lock:
                if status == 200 and echoed == text.upper() and pid.isdigit():
                    self.answers.append((time.monotonic(), int(pid)))
                else:
                    self.wrong.append((text, (status, body)))
                self.sent[client] = i + 1
            i += 1
        if conn is not None:
            conn.close()

    def pids_since(self, since):
        with self.lock:
            return [pid for at, pid in self.answers if at >= since]

    def wait_for_answers(self, since, count, timeout=30.0):
        """The pids of the first `count` answers after `since` (fails if they do not come in time)."""
        assert wait_until(lambda: len(self.pids_since(since)) >= count, timeout), \
            "%d answers after %.1f s (wrong: %s)" % (len(self.pids_since(since)), timeout, self.wrong[:5])
        return self.pids_since(since)[:count]

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(40)
        return sum(self.sent)


def http_cluster(cluster, receiver, size, port):
    return cluster(HTTP_ECHO, size, receiver().address, app_args=["--http", "127.0.0.1:%d" % port])


def test_grow_and_shrink_while_clients_post(cluster, receiver, roo_bin):
    port = free_port()
    c = http_cluster(cluster, receiver, 1, port)
    load = HttpLoad(port).start()
    started = time.monotonic()
    assert set(load.wait_for_answers(started, 200)) == {c[0].pid}

    joiner = c.join("worker1")
    c.wait_ready([joiner])
    # New connections reach the joiner's listener too (the kernel picks one per connection).
    grown = time.monotonic()
    assert wait_until(lambda: joiner.pid in load.pids_since(grown), 30), c.logs()
    assert set(load.pids_since(grown)) <= {c[0].pid, joiner.pid}

    done = ctl(roo_bin, "shrink", "-e", c[0].external, "--workers", "worker1")
    assert (done.returncode, done.stdout, done.stderr) == (0, "shrinking: worker1 will leave (1 worker)\n", ""), \
        c.logs()
    assert joiner.worker.wait(EXIT_TIMEOUT) == 0, c.logs()
    assert "http_source 'web': stopped" in joiner.stderr()
    left = time.monotonic()
    assert set(load.wait_for_answers(left, 200)) == {c[0].pid}, c.logs()

    total = load.stop()
    assert load.wrong == [], (load.wrong[:10], c.logs())
    assert len(load.answers) == total and total > 600, (len(load.answers), total)
    # A resent request is one the leaver did not read: sent on its idle connection as the leaver closed it, or on a
    # connection still in its listen queue when it closed its listener. Twice per client at most.
    assert load.resent <= 2 * len(load.sent), load.resent
    c.stop(via=0)


def test_an_http_source_answered_through_a_keyed_step_is_still_refused(cluster, receiver, roo_bin):
    """A joiner is refused, both sides say why in one line, and the worker goes on answering alone."""
    port = free_port()
    c = cluster(HTTP_ECHO, 1, receiver().address, app_args=["--http", "127.0.0.1:%d" % port, "--keyed"])
    joiner = c.join("worker1")
    assert joiner.worker.wait(EXIT_TIMEOUT) == 1, joiner.stderr()
    reason = ("the cluster cannot grow while it runs: rescaling is not supported with HTTP source 'web' answering "
              "through keyed step 'first_byte' (a request is answered by the worker that read it, and a rescale sends its key elsewhere)")
    assert joiner.stderr().rstrip("\n").split("\n")[-1] == \
        "roo run: unable to join the cluster at %s: %s" % (c[0].control, reason), joiner.stderr()
    assert c[0].wait_for_log("cluster: refused worker 'worker1' from ")
    refused = [line for line in c[0].stderr().split("\n") if "refused worker 'worker1'" in line]
    assert len(refused) == 1 and reason in refused[0], c[0].stderr()
    c.members.pop()  # not a member: the cluster's stop does not wait for it

    load = HttpLoad(port, clients=2).start()
    assert set(load.wait_for_answers(time.monotonic(), 50)) == {c[0].pid}
    load.stop()
    assert load.wrong == [] and load.resent == 0, (load.wrong[:10], load.resent)
    c.stop(via=0)
