"""`roo ctl`, `roo shutdown`, `cluster_shutdown` and the `roo run --workers N` supervisor.

The client side is tested against `FakeExternalWorker`, a small Python server speaking the external channel
(`u32 BE (2 + n) | u16 BE msg_id | payload`, spec §2.5): it is called fake because it stands in for a worker,
to check the exact bytes `roo ctl` sends and what it does with every kind of answer (or none). The tests at
the end run real clusters of `roo` workers.

Run with `/usr/bin/python3 -m pytest -q tests/e2e/test_ctl.py` (ROO_BIN picks another binary).
"""
import json
import os
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import EXAMPLES, REPO, Receiver, free_port, wait_until, worker_env

ALPHABET = os.path.join(EXAMPLES, "alphabet", "alphabet.py")

# --type -> (request id, response id or None)
TYPES = {
    "clean-shutdown": (3, None),
    "rotate-log": (2, None),
    "partition-query": (7, 8),
    "partition-count-query": (12, 13),
    "cluster-status-query": (9, 10),
    "source-ids-query": (14, 15),
    "boundary-count-status": (16, None),
    "state-entity-query": (17, 18),
    "state-entity-count-query": (21, 22),
    "cluster-state-entity-count-query": (25, 26),
    "stateless-partition-query": (19, 20),
    "stateless-partition-count-query": (23, 24),
    "print": (1, None),
}
RESPONSE_NAMES = {
    8: "PartitionQueryResponse",
    10: "ClusterStatusQueryResponse",
    13: "PartitionCountQueryResponse",
    15: "SourceIdsQueryResponse",
    18: "StateEntityQueryResponse",
    20: "StatelessPartitionQueryResponse",
    22: "StateEntityCountQueryResponse",
    24: "StatelessPartitionCountQueryResponse",
    26: "ClusterStateEntityCountQueryResponse",
}
VALID_TYPES = ("clean-shutdown, rotate-log, partition-query, partition-count-query, cluster-status-query, "
               "source-ids-query, boundary-count-status, state-entity-query, state-entity-count-query, "
               "cluster-state-entity-count-query, stateless-partition-query, stateless-partition-count-query, print, "
               "metrics, shrink-request, shrink")


def ext_frame(msg_id, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return struct.pack(">IH", 2 + len(payload), msg_id) + payload


def parse_ext_frames(data):
    """[(msg_id, payload)] of complete frames; asserts nothing is left over."""
    out, at = [], 0
    while at < len(data):
        assert at + 4 <= len(data), "truncated header at byte %d of %r" % (at, data)
        (length,) = struct.unpack_from(">I", data, at)
        assert length >= 2 and at + 4 + length <= len(data), "truncated frame at byte %d of %r" % (at, data)
        (msg_id,) = struct.unpack_from(">H", data, at + 4)
        out.append((msg_id, data[at + 6:at + 4 + length]))
        at += 4 + length
    return out


class FakeExternalWorker(Receiver):
    """Stands in for a worker's external channel: records every connection's bytes and answers each request
    with `answer(msg_id, payload)` -> bytes to write back (b"" for nothing), or the string "close" to close
    the connection, or "silent" to keep it open and say nothing."""

    def __init__(self, answer=None):
        self.answer = answer or (lambda msg_id, payload: b"")
        Receiver.__init__(self)

    def _read_loop(self, conn, index):
        conn.settimeout(0.05)
        pending = bytearray()
        with conn:
            while not self._stop:
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
                pending.extend(chunk)
                while len(pending) >= 4:
                    (length,) = struct.unpack_from(">I", pending, 0)
                    if len(pending) < 4 + length:
                        break
                    (msg_id,) = struct.unpack_from(">H", pending, 4)
                    payload = bytes(pending[6:4 + length])
                    del pending[:4 + length]
                    reply = self.answer(msg_id, payload)
                    if reply == "close":
                        return
                    if reply == "silent":
                        continue
                    for piece in reply if isinstance(reply, list) else [reply]:
                        if isinstance(piece, float):
                            time.sleep(piece)  # the test asked for a gap between two writes
                        else:
                            conn.sendall(piece)

    def connections(self):
        return self.per_connection()

    def wait_for_bytes(self, count, timeout=5.0):
        wait_until(lambda: sum(len(c) for c in self.connections()) >= count, timeout)
        return self.connections()


@pytest.fixture
def fake_worker():
    made = []

    def make(answer=None):
        worker = FakeExternalWorker(answer)
        made.append(worker)
        return worker
    yield make
    for worker in made:
        worker.close()


def run_roo(roo_bin, *args, timeout=10, program=None):
    argv = [program or roo_bin] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def cluster_shutdown_bin(roo_bin):
    path = os.path.join(os.path.dirname(roo_bin), "cluster_shutdown")
    if not os.path.exists(path):
        pytest.fail("cluster_shutdown not found next to %s (the roo build makes it a symlink)" % roo_bin)
    return path


def answers_with(payloads):
    """An answer function replying to query `id` with frame (id + 1, payloads[id + 1])."""
    return lambda msg_id, payload: ext_frame(msg_id + 1, payloads[msg_id + 1]) if msg_id + 1 in payloads else b""


JSON_ANSWERS = {
    8: '{"state_partitions":{"add votes":{"initializer":["1","2"]}},"stateless_partitions":{}}',
    10: '{"worker_count":2,"worker_names":["initializer","worker1"],"processing_messages":true}',
    13: '{"state_partitions":{"add votes":{"initializer":2}},"stateless_partitions":{}}',
    15: '{"source_ids":["4242"]}',
    18: '{"add votes":["a","b"]}',
    20: '{"7":{"initializer":["11"]}}',
    22: '{"add votes":2}',
    24: '{"7":{"initializer":1}}',
    26: '{"initializer":{"add votes":2}}',
}


# ------------------------------------------------------------------------------ roo ctl against a fake worker


@pytest.mark.parametrize("type_name", sorted(t for t, (_, resp) in TYPES.items() if resp))
def test_query_sends_exact_bytes_and_prints_only_the_json(roo_bin, fake_worker, type_name):
    request, response = TYPES[type_name]
    worker = fake_worker(answers_with(JSON_ANSWERS))
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", type_name, "--json")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == JSON_ANSWERS[response] + "\n"
    assert worker.connections() == [ext_frame(request)]


@pytest.mark.parametrize("type_name,message,payload", [
    ("print", "hello, cluster", b"hello, cluster"),
    ("print", None, b""),
    ("clean-shutdown", None, b""),
    ("clean-shutdown", "bye", b"bye"),
    ("rotate-log", "worker1", b"worker1"),
    ("boundary-count-status", None, b"boundary-count-status"),
    ("boundary-count-status", "boundary-status", b"boundary-status"),
])
def test_request_without_response_sends_exact_bytes_prints_nothing(roo_bin, fake_worker, type_name, message,
                                                                   payload):
    worker = fake_worker()
    args = ["ctl", "-e", worker.address, "-t", type_name] + (["-m", message] if message is not None else [])
    result = run_roo(roo_bin, *args)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    expected = ext_frame(TYPES[type_name][0], payload)
    assert worker.wait_for_bytes(len(expected)) == [expected]
    assert parse_ext_frames(expected) == [(TYPES[type_name][0], payload)]


def test_message_does_not_change_a_query(roo_bin, fake_worker):
    worker = fake_worker(answers_with(JSON_ANSWERS))
    result = run_roo(roo_bin, "ctl", "-e", worker.address, "-t", "source-ids-query", "-m", "ignored", "-j")
    assert (result.returncode, result.stdout) == (0, JSON_ANSWERS[15] + "\n")
    assert worker.connections() == [ext_frame(14)]


def test_type_is_case_insensitive_like_external_sender(roo_bin, fake_worker):
    worker = fake_worker(answers_with(JSON_ANSWERS))
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "Cluster-Status-Query", "--json")
    assert (result.returncode, result.stdout) == (0, JSON_ANSWERS[10] + "\n")


def test_human_output_names_the_response_and_indents_the_json(roo_bin, fake_worker):
    worker = fake_worker(answers_with(JSON_ANSWERS))
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "cluster-status-query")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == ('ClusterStatusQueryResponse:\n'
                             '{\n'
                             '  "worker_count": 2,\n'
                             '  "worker_names": [\n'
                             '    "initializer",\n'
                             '    "worker1"\n'
                             '  ],\n'
                             '  "processing_messages": true\n'
                             '}\n')


@pytest.mark.parametrize("type_name", sorted(t for t, (_, resp) in TYPES.items() if resp))
def test_human_output_of_every_query_parses_back_to_the_answer(roo_bin, fake_worker, type_name):
    response = TYPES[type_name][1]
    worker = fake_worker(answers_with(JSON_ANSWERS))
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", type_name)
    assert result.returncode == 0, result.stderr
    first, rest = result.stdout.split("\n", 1)
    assert first == RESPONSE_NAMES[response] + ":"
    assert json.loads(rest) == json.loads(JSON_ANSWERS[response])


def test_braces_and_commas_inside_strings_are_kept(roo_bin, fake_worker):
    answer = '{"add votes":["a,{b}", "q\\"[x]"],"e":{}, "l":[]}'
    worker = fake_worker(answers_with({18: answer}))
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "state-entity-query")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.split("\n", 1)[1]) == json.loads(answer)
    assert '"a,{b}"' in result.stdout and '"e": {}' in result.stdout and '"l": []' in result.stdout


def test_cluster_not_initialized_prints_what_external_sender_prints(roo_bin, fake_worker):
    worker = fake_worker(lambda msg_id, payload: ext_frame(11))
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "cluster-status-query", "--json")
    assert (result.returncode, result.stdout, result.stderr) == (0, '{"processing_messages": false}\n', "")
    human = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "cluster-status-query")
    assert (human.returncode, human.stdout) == (0, "ClusterStatusQueryResponseNotInitialized:\n"
                                                   "the cluster is not initialized yet\n")


def test_answer_in_pieces_after_an_empty_frame(roo_bin, fake_worker):
    body = ext_frame(15, '{"source_ids":["1","2"]}')
    worker = fake_worker(lambda msg_id, payload: [struct.pack(">I", 0), body[:3], 0.2, body[3:9], 0.2, body[9:]])
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "source-ids-query", "--json")
    assert (result.returncode, result.stdout, result.stderr) == (0, '{"source_ids":["1","2"]}\n', "")


def test_answer_larger_than_one_read(roo_bin, fake_worker):
    keys = ["key-%06d" % i for i in range(20000)]
    answer = json.dumps({"add votes": keys})
    worker = fake_worker(answers_with({18: answer}))
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "state-entity-query", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"add votes": keys}


def test_no_answer_within_timeout(roo_bin, fake_worker):
    worker = fake_worker(lambda msg_id, payload: "silent")
    started = time.monotonic()
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "cluster-status-query", "--json",
                     "--timeout", "0.5")
    elapsed = time.monotonic() - started
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("roo ctl: unable to get an answer to cluster-status-query from %s: none within 0.5 s "
                             "(--timeout)\n" % worker.address)
    assert 0.5 <= elapsed < 3
    assert worker.connections() == [ext_frame(9)]


def test_default_timeout_is_5_seconds(roo_bin, fake_worker):
    worker = fake_worker(lambda msg_id, payload: "silent")
    started = time.monotonic()
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "partition-query")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert result.stderr.endswith(": none within 5 s (--timeout)\n")
    assert 5 <= elapsed < 8


def test_worker_closes_the_connection(roo_bin, fake_worker):
    worker = fake_worker(lambda msg_id, payload: "close")
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "stateless-partition-query")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("roo ctl: unable to get an answer to stateless-partition-query from %s: the worker "
                             "closed the connection\n"
                             "hint: a worker closes the connection on a request it does not understand\n"
                             % worker.address)
    assert worker.connections() == [ext_frame(19)]


def test_answer_with_the_wrong_message_id(roo_bin, fake_worker):
    worker = fake_worker(lambda msg_id, payload: ext_frame(13, "{}"))
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "partition-query", "--json")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("roo ctl: unable to read the answer to partition-query from %s: unexpected message "
                             "id 13 (expected 8)\n" % worker.address)


def test_frame_too_short_for_a_message_id(roo_bin, fake_worker):
    worker = fake_worker(lambda msg_id, payload: struct.pack(">IB", 1, 8))
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "partition-query")
    assert result.returncode == 1
    assert result.stderr == ("roo ctl: unable to get an answer to partition-query from %s: the answer is a frame "
                             "too short to hold a message id\n" % worker.address)


def test_connection_refused(roo_bin):
    port = free_port()
    result = run_roo(roo_bin, "ctl", "--external", "127.0.0.1:%d" % port, "--type", "cluster-status-query")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "roo ctl: unable to connect to 127.0.0.1:%d: connection refused\n" % port


def test_roo_details_asks_for_them_in_the_status_query_payload(roo_bin, fake_worker):
    answer = '{"worker_count":1,"worker_names":["initializer"],"processing_messages":true,"missing_workers":[]}'
    worker = fake_worker(answers_with({10: answer}))
    result = run_roo(roo_bin, "ctl", "-e", worker.address, "-t", "cluster-status-query", "--roo-details", "-j")
    assert (result.returncode, result.stdout, result.stderr) == (0, answer + "\n", "")
    assert worker.connections() == [ext_frame(9, b"roo-details")]


def test_roo_details_with_another_type_is_a_usage_error(roo_bin, fake_worker):
    worker = fake_worker()
    result = run_roo(roo_bin, "ctl", "-e", worker.address, "-t", "partition-query", "--roo-details")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("roo ctl: unable to send --roo-details with partition-query: only cluster-status-query "
                             "has Roo details\n")
    assert worker.connections() == []


def test_unknown_type_exits_2_listing_the_valid_names(roo_bin, fake_worker):
    worker = fake_worker()
    result = run_roo(roo_bin, "ctl", "--external", worker.address, "--type", "grow")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "roo ctl: unable to send --type 'grow': not a request type; valid types: %s\n" % (
        VALID_TYPES)
    time.sleep(0.1)  # nothing may connect; give a stray connection the time to show
    assert worker.connections() == []


@pytest.mark.parametrize("command, value", [("ctl", "x"), ("ctl", "0"), ("shutdown", "-1"), ("shutdown", "x")])
def test_bad_timeout_is_named_with_its_value(roo_bin, command, value):
    extra = ["--type", "print"] if command == "ctl" else []
    result = run_roo(roo_bin, command, "--external", "127.0.0.1:1", *extra, "--timeout", value)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "roo %s: unable to parse --timeout '%s': expected a number of seconds above 0\n" % (
        command, value)


@pytest.mark.parametrize("args", [["--type", "print"], ["--external", "127.0.0.1:1"],
                                  ["--external", "nowhere", "--type", "print"],
                                  ["--external", "127.0.0.1:1", "--type", "print", "--timeout", "0"]])
def test_usage_errors_exit_2(roo_bin, args):
    result = run_roo(roo_bin, "ctl", *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("roo ctl: ")


# ------------------------------------------------------------------------ roo shutdown and cluster_shutdown


def test_roo_shutdown_sends_clean_shutdown(roo_bin, fake_worker):
    worker = fake_worker()
    result = run_roo(roo_bin, "shutdown", "--external", worker.address)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert worker.wait_for_bytes(6) == [b"\x00\x00\x00\x02\x00\x03"]


def test_cluster_shutdown_positional_address(roo_bin, fake_worker):
    worker = fake_worker()
    result = run_roo(roo_bin, worker.address, program=cluster_shutdown_bin(roo_bin))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert worker.wait_for_bytes(6) == [b"\x00\x00\x00\x02\x00\x03"]


def test_shutdown_cannot_connect(roo_bin):
    port = free_port()
    result = run_roo(roo_bin, "shutdown", "--external", "127.0.0.1:%d" % port)
    assert (result.returncode, result.stderr) == (
        1, "roo shutdown: unable to connect to 127.0.0.1:%d: connection refused\n" % port)
    result = run_roo(roo_bin, "127.0.0.1:%d" % port, program=cluster_shutdown_bin(roo_bin))
    assert (result.returncode, result.stderr) == (
        1, "cluster_shutdown: unable to connect to 127.0.0.1:%d: connection refused\n" % port)


def test_cluster_shutdown_usage(roo_bin):
    program = cluster_shutdown_bin(roo_bin)
    result = run_roo(roo_bin, program=program)
    assert result.returncode == 2
    assert result.stderr.startswith("cluster_shutdown: unable to start: expected one argument, the worker's "
                                    "external address HOST:PORT\nusage: cluster_shutdown HOST:PORT\n")
    result = run_roo(roo_bin, "--help", program=program)
    assert result.returncode == 0 and result.stdout.startswith("usage: cluster_shutdown HOST:PORT\n")
    result = run_roo(roo_bin, "no-port", program=program)
    assert result.returncode == 2 and result.stderr.startswith("cluster_shutdown: unable to ")


# ------------------------------------------------------------------ roo ctl shrink and cluster_shrinker

SHRINK_ANSWERS = {
    ("worker2", "worker3"): '{"node_names":["worker2","worker3"],"node_count":2}',
    ("worker2",): '{"node_names":["worker2"],"node_count":1}',
}


def shrinker_bin(roo_bin):
    path = os.path.join(os.path.dirname(roo_bin), "cluster_shrinker")
    if not os.path.exists(path):
        pytest.fail("cluster_shrinker not found next to %s (the roo build makes it a symlink)" % roo_bin)
    return path


def shrink_answering(names):
    """A worker answering every ShrinkRequest with ShrinkQueryResponse naming `names`."""
    return lambda msg_id, payload: ext_frame(5, SHRINK_ANSWERS[names]) if msg_id == 4 else "close"


@pytest.mark.parametrize("flags,request_json,names,line", [
    (["--workers", "worker2,worker3"], '{"query":false,"node_names":["worker2","worker3"],"node_count":0}',
     ("worker2", "worker3"), "shrinking: worker2, worker3 will leave (2 workers)"),
    (["-w", "worker2"], '{"query":false,"node_names":["worker2"],"node_count":0}',
     ("worker2",), "shrinking: worker2 will leave (1 worker)"),
    (["--count", "2"], '{"query":false,"node_names":[],"node_count":2}',
     ("worker2", "worker3"), "shrinking: worker2, worker3 will leave (2 workers)"),
    (["-c", "3"], '{"query":false,"node_names":[],"node_count":3}',
     ("worker2",), "shrinking: worker2 will leave (1 worker; 3 were asked for, only 1 can leave)"),
    (["--query"], '{"query":true,"node_names":[],"node_count":0}',
     ("worker2", "worker3"), "could leave: worker2, worker3 (2 workers)"),
])
def test_shrink_sends_wallaroos_request_and_prints_who_leaves(roo_bin, fake_worker, flags, request_json, names,
                                                               line):
    worker = fake_worker(shrink_answering(names))
    result = run_roo(roo_bin, "ctl", "shrink", "-e", worker.address, *flags)
    assert (result.returncode, result.stdout, result.stderr) == (0, line + "\n", "")
    assert worker.connections() == [ext_frame(4, request_json)]
    as_json = run_roo(roo_bin, "ctl", "--type", "shrink", "--external", worker.address, "--json", *flags)
    assert (as_json.returncode, as_json.stdout, as_json.stderr) == (0, SHRINK_ANSWERS[names] + "\n", "")
    tool = run_roo(roo_bin, "--external", worker.address, *flags, program=shrinker_bin(roo_bin))
    assert (tool.returncode, tool.stdout, tool.stderr) == (0, line + "\n", "")
    assert worker.connections()[2] == ext_frame(4, request_json)


def test_a_refused_shrink_prints_the_workers_text_and_exits_1(roo_bin, fake_worker):
    text = "the initializer cannot leave the cluster"
    worker = fake_worker(lambda msg_id, payload: ext_frame(6, text))
    result = run_roo(roo_bin, "ctl", "shrink", "-e", worker.address, "--workers", "initializer", "--json")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "roo ctl: unable to shrink the cluster at %s: %s\n" % (worker.address, text)
    tool = run_roo(roo_bin, "-e", worker.address, "-w", "initializer", program=shrinker_bin(roo_bin))
    assert (tool.returncode, tool.stdout) == (1, "")
    assert tool.stderr == "cluster_shrinker: unable to shrink the cluster at %s: %s\n" % (worker.address, text)
    raw = run_roo(roo_bin, "ctl", "-e", worker.address, "-t", "shrink-request", "-m", "{}")
    assert (raw.returncode, raw.stderr) == (1, "roo ctl: unable to shrink the cluster at %s: %s\n" % (
        worker.address, text))


def test_shrink_request_sends_the_message_as_wallaroos_json(roo_bin, fake_worker):
    worker = fake_worker(shrink_answering(("worker2",)))
    request = '{"query":false,"node_names":["worker2"],"node_count":0}'
    result = run_roo(roo_bin, "ctl", "-e", worker.address, "-t", "shrink-request", "-m", request)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == ('ShrinkQueryResponse:\n'
                             '{\n'
                             '  "node_names": [\n'
                             '    "worker2"\n'
                             '  ],\n'
                             '  "node_count": 1\n'
                             '}\n')
    assert worker.connections() == [ext_frame(4, request)]


def test_an_answer_that_is_not_a_shrink_query_response(roo_bin, fake_worker):
    worker = fake_worker(lambda msg_id, payload: ext_frame(5, '{"node_names":"worker2"}'))
    result = run_roo(roo_bin, "ctl", "shrink", "-e", worker.address, "--count", "1")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("roo ctl: unable to read the answer to shrink-request from %s: the answer is not a "
                             "ShrinkQueryResponse (expected node_names and node_count)\n" % worker.address)
    worker = fake_worker(lambda msg_id, payload: ext_frame(10, "{}"))
    result = run_roo(roo_bin, "ctl", "shrink", "-e", worker.address, "--count", "1")
    assert (result.returncode, result.stderr) == (1, "roo ctl: unable to read the answer to shrink-request from %s: "
                                                     "unexpected message id 10 (expected 5)\n" % worker.address)
    worker = fake_worker(lambda msg_id, payload: "close")
    result = run_roo(roo_bin, "ctl", "shrink", "-e", worker.address, "--count", "1")
    assert result.returncode == 1
    assert result.stderr.startswith("roo ctl: unable to get an answer to shrink-request from %s: the worker closed "
                                    "the connection\n" % worker.address)


ONE_OF = "shrink the cluster: give exactly one of --workers, --count and --query"


@pytest.mark.parametrize("args,message", [
    (["shrink"], ONE_OF),
    (["shrink", "--workers", "a", "--count", "1"], ONE_OF),
    (["shrink", "--query", "--count", "1"], ONE_OF),
    (["shrink", "--count", "0"], "shrink --count 0: expected a number of workers to leave, at least 1"),
    (["shrink", "--workers", "a,,b"], "shrink --workers 'a,,b': expected worker names separated by commas"),
    (["-t", "partition-query", "--query"], "send --workers, --count or --query with partition-query: only shrink "
                                           "takes them"),
    (["-t", "shrink-request"], "send shrink-request: give the request's JSON with --message, e.g. "
                               "'{\"query\":true,\"node_names\":[],\"node_count\":0}' (or use roo ctl shrink)"),
])
def test_shrink_usage_errors_exit_2_and_send_nothing(roo_bin, fake_worker, args, message):
    worker = fake_worker()
    result = run_roo(roo_bin, "ctl", "-e", worker.address, *args)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", "roo ctl: unable to %s\n" % message)
    if args[0] == "shrink":
        tool = run_roo(roo_bin, "-e", worker.address, *args[1:], program=shrinker_bin(roo_bin))
        assert (tool.returncode, tool.stdout, tool.stderr) == (2, "", "cluster_shrinker: unable to %s\n" % message)
    time.sleep(0.1)
    assert worker.connections() == []


def test_cluster_shrinker_help_and_missing_external(roo_bin):
    program = shrinker_bin(roo_bin)
    result = run_roo(roo_bin, "--help", program=program)
    assert result.returncode == 0 and "cluster_shrinker" in result.stdout and "--workers" in result.stdout
    result = run_roo(roo_bin, "--query", program=program)
    assert result.returncode == 2
    assert result.stderr.startswith("cluster_shrinker: --external is required")


# ------------------------------------------------------------------------------ roo run --workers N


def children_of(pid):
    """Pids whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def free_port_run(count):
    """A port P such that P .. P + count - 1 are all free right now (worker i listens on P + i)."""
    while True:
        held = []
        try:
            for i in range(count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(sock)
                sock.bind(("127.0.0.1", held[0].getsockname()[1] + i if i else 0))
            return held[0].getsockname()[1]
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()


class Supervisor(object):
    """`roo run --workers N ...` with stderr and stdout collected in files."""

    def __init__(self, roo_bin, tmp_path, args):
        self.stderr_path = str(tmp_path / "supervisor.stderr")
        self.stdout_path = str(tmp_path / "supervisor.stdout")
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen([roo_bin, "run"] + list(args), stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, env=worker_env(), cwd=REPO)

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for(self, text, timeout=15.0):
        if not wait_until(lambda: text in self.stderr() or self.proc.poll() is not None, timeout) or \
                text not in self.stderr():
            pytest.fail("no %r from roo run --workers (exit %s); stderr:\n%s" % (text, self.proc.poll(),
                                                                                 self.stderr()), pytrace=False)

    def wait(self, timeout=15.0):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail("roo run --workers did not exit; stderr:\n%s" % self.stderr(), pytrace=False)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                for pid in children_of(self.proc.pid):
                    os.kill(pid, signal.SIGKILL)
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def supervisor(roo_bin, tmp_path):
    made = []

    def start(*args):
        s = Supervisor(roo_bin, tmp_path, args)
        made.append(s)
        return s
    yield start
    for s in made:
        s.close()


def ready_lines(supervisor, names):
    for name in names:
        supervisor.wait_for("[%s] " % name)
        supervisor.wait_for("%s: |~~ INIT PHASE III: Application is ready to work! ~~|" % name)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_workers_prefix_their_logs_and_stop_together_on_a_signal(supervisor, receiver, signum):
    out = receiver()
    port, external = free_port_run(2), free_port()
    s = supervisor("--workers", "2", ALPHABET, "--in", "Alphabet@127.0.0.1:%d" % port, "--out", out.address,
                   "--external", "127.0.0.1:%d" % external)
    ready_lines(s, ["initializer", "worker1"])
    children = children_of(s.proc.pid)
    assert len(children) == 2
    err = s.stderr()
    assert err.startswith(
        "roo run: starting a cluster of 2 workers; talk to it with roo ctl --external 127.0.0.1:%d / roo shutdown "
        "--external 127.0.0.1:%d\n"
        "roo run: initializer listens for 'Alphabet' on 127.0.0.1:%d\n"
        "roo run: worker1 listens for 'Alphabet' on 127.0.0.1:%d\n" % (external, external, port, port + 1))
    s.proc.send_signal(signum)
    assert s.wait() == 0
    err = s.stderr()
    assert "roo run: received %s; stopping every worker (SIGTERM)\n" % signum.name in err
    for name in ("initializer", "worker1"):
        assert "%s: received SIGTERM" % name in err
        assert "[%s] " % name in err
    # every line of a worker is prefixed: nothing of theirs appears bare
    assert all(line.startswith(("roo run: ", "[initializer] ", "[worker1] ")) for line in err.splitlines()), err
    assert not any(alive(pid) for pid in children)


def test_workers_flag_after_the_app_and_three_workers(supervisor, receiver):
    out = receiver()
    port = free_port_run(3)
    s = supervisor(ALPHABET, "--workers", "3", "--in", "Alphabet@127.0.0.1:%d" % port, "--out", out.address,
                   "--drain-timeout", "5")
    ready_lines(s, ["initializer", "worker1", "worker2"])
    assert "roo run: worker2 listens for 'Alphabet' on 127.0.0.1:%d\n" % (port + 2) in s.stderr()
    # A Roo flag after APP goes to the application (every worker's); the supervisor says so once, its workers not.
    assert s.stderr().startswith("roo run: note: --drain-timeout after the application is passed to it; put Roo's "
                                 "flags before %s\nroo run: starting a cluster of 3 workers" % ALPHABET)
    assert s.stderr().count("note:") == 1
    assert len(children_of(s.proc.pid)) == 3
    s.proc.send_signal(signal.SIGINT)
    assert s.wait() == 0


def test_a_failing_worker_stops_the_others_and_sets_the_exit_code(supervisor, receiver):
    out = receiver()
    port = free_port_run(2)
    with socket.socket() as taken:  # worker1's source port (port + 1) is in use
        taken.bind(("127.0.0.1", port + 1))
        taken.listen(1)
        s = supervisor("--workers", "2", ALPHABET, "--in", "Alphabet@127.0.0.1:%d" % port, "--out", out.address)
        assert s.wait() == 1
    err = s.stderr()
    failure = ("[worker1] roo run: unable to listen on 127.0.0.1:%d for source 'Alphabet': address already in use\n"
               % (port + 1))
    verdict = "roo run: worker1 exited with code 1; stopping the other workers\n"
    assert failure in err and verdict in err
    assert err.index(failure) < err.index(verdict), "the worker's last words come before the verdict"
    assert err.count(verdict) == 1 and "roo run: received" not in err


def test_workers_stop_when_the_supervisor_is_killed(supervisor, receiver):
    out = receiver()
    port = free_port_run(2)
    s = supervisor("--workers", "2", ALPHABET, "--in", "Alphabet@127.0.0.1:%d" % port, "--out", out.address)
    ready_lines(s, ["initializer", "worker1"])
    children = children_of(s.proc.pid)
    assert len(children) == 2
    s.proc.kill()
    s.proc.wait()
    assert wait_until(lambda: not any(alive(pid) for pid in children), 10), "workers outlived their supervisor"


@pytest.mark.parametrize("flag", [["--control", "127.0.0.1:6000"], ["--name", "w"], ["--cluster-initializer"],
                                  ["--worker-count", "2"], ["--my-data", "127.0.0.1:6001"], ["-d", "127.0.0.1:6"]])
def test_workers_refuses_the_flags_it_sets(roo_bin, flag):
    result = run_roo(roo_bin, "run", "--workers", "2", ALPHABET, "--in", "Alphabet@127.0.0.1:7010", *flag)
    long_name = {"-d": "--data"}.get(flag[0], flag[0])
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("roo run: unable to run a cluster with --workers: leave out %s; roo run --workers "
                             "chooses it for every worker\n" % long_name)


@pytest.mark.parametrize("args,message", [
    (["--workers", "0", ALPHABET], "roo run: unable to parse --workers '0': expected a whole number of at least 1\n"),
    (["--workers", "x", ALPHABET], "roo run: unable to parse --workers 'x': expected a whole number of at least 1\n"),
    ([ALPHABET, "--workers", "x"], "roo run: unable to parse --workers 'x': expected a whole number of at least 1\n"),
    (["--workers", "2", ALPHABET, "--in", "Alphabet@127.0.0.1:65535"],
     "roo run: unable to give worker1 a port for --in 'Alphabet@127.0.0.1:65535': 65535 + 1 is over 65535\n"),
    (["--workers", "2", ALPHABET, "--in", "Alphabet@127.0.0.1:7010", "-e", "nope"],
     "roo run: unable to parse --external address 'nope': expected host:port\n"),
])
def test_workers_usage_errors(roo_bin, args, message):
    result = run_roo(roo_bin, "run", *args)
    assert result.returncode == 2, result.stderr
    if message:
        assert result.stderr == message
    assert "starting a cluster" not in result.stderr


# ------------------------------------------------------------------------------ real clusters


def cluster_status(roo_bin, external):
    """The initializer's cluster-status-query answer as a dict, or None while there is none yet."""
    result = run_roo(roo_bin, "ctl", "--external", external, "--type", "cluster-status-query", "--json",
                     "--timeout", "2")
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)


def start_cluster(supervisor, roo_bin, receiver, workers=2):
    out = receiver()
    port, external = free_port_run(workers), "127.0.0.1:%d" % free_port()
    s = supervisor("--workers", str(workers), ALPHABET, "--in", "Alphabet@127.0.0.1:%d" % port, "--out",
                   out.address, "--external", external)
    names = ["initializer"] + ["worker%d" % i for i in range(1, workers)]
    ready_lines(s, names)
    status = wait_until(lambda: (lambda st: st if st and st.get("processing_messages") else None)(
        cluster_status(roo_bin, external)), 10, interval=0.1)
    assert status, "the cluster never answered processing_messages true; stderr:\n" + s.stderr()
    return s, out, port, external, status


def test_cluster_status_of_a_two_worker_cluster(supervisor, roo_bin, receiver):
    s, _out, _port, external, status = start_cluster(supervisor, roo_bin, receiver)
    assert status["worker_count"] == 2
    assert sorted(status["worker_names"]) == ["initializer", "worker1"]
    assert status["processing_messages"] is True
    human = run_roo(roo_bin, "ctl", "-e", external, "-t", "cluster-status-query")
    assert human.returncode == 0 and human.stdout.startswith("ClusterStatusQueryResponse:\n{\n")
    assert json.loads(human.stdout.split("\n", 1)[1]) == status
    s.proc.send_signal(signal.SIGINT)
    assert s.wait() == 0


@pytest.mark.parametrize("tool", ["roo shutdown", "cluster_shutdown"])
def test_shutdown_stops_every_worker_with_exit_0(supervisor, roo_bin, receiver, tool):
    s, _out, _port, external, _status = start_cluster(supervisor, roo_bin, receiver)
    children = children_of(s.proc.pid)
    assert len(children) == 2
    if tool == "roo shutdown":
        result = run_roo(roo_bin, "shutdown", "--external", external)
    else:
        result = run_roo(roo_bin, external, program=cluster_shutdown_bin(roo_bin))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert s.wait() == 0, s.stderr()
    err = s.stderr()
    assert "roo run: received" not in err and "exited with code" not in err and "stopping them" not in err
    for name in ("initializer", "worker1"):
        assert "[%s] " % name in err and "%s: stopped:" % name in err
    assert not any(alive(pid) for pid in children)


def test_each_worker_listens_on_its_shifted_port(supervisor, roo_bin, receiver):
    s, out, port, _external, _status = start_cluster(supervisor, roo_bin, receiver)
    vote = lambda letter, n: struct.pack(">I", 5) + letter.encode() + struct.pack(">I", n)
    with socket.create_connection(("127.0.0.1", port + 1), timeout=5) as c:  # worker1's source
        c.sendall(b"".join(vote("q", 1) for _ in range(3)))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:  # the initializer's
        c.sendall(vote("r", 5))
    out.wait_for(lambda r: len(r.lines()) >= 4, timeout=10)
    out.wait_quiet(0.3)
    lines = out.lines()
    assert [l for l in lines if l.startswith("q")] == ["q => 1", "q => 2", "q => 3"]
    assert [l for l in lines if l.startswith("r")] == ["r => 5"]
    assert len(lines) == 4
    s.proc.send_signal(signal.SIGTERM)
    assert s.wait() == 0


def test_worker_stdout_is_prefixed_on_stdout(supervisor, receiver, tmp_path):
    app = tmp_path / "chatty.py"
    app.write_text("import sys\n"
                   "sys.path.insert(0, %r)\n"
                   "import alphabet\n\n\n"
                   "def application_setup(args):\n"
                   "    print('setting up', flush=True)\n"
                   "    sys.stdout.write('no newline at the end')\n"
                   "    sys.stdout.flush()\n"
                   "    return alphabet.application_setup(args)\n" % os.path.join(EXAMPLES, "alphabet"))
    out = receiver()
    s = supervisor("--workers", "2", str(app), "--in", "Alphabet@127.0.0.1:%d" % free_port_run(2),
                   "--out", out.address)
    ready_lines(s, ["initializer", "worker1"])
    s.proc.send_signal(signal.SIGINT)
    assert s.wait() == 0
    assert sorted(s.stdout().splitlines()) == [
        "[initializer] no newline at the end", "[initializer] setting up",
        "[worker1] no newline at the end", "[worker1] setting up"]
    assert "setting up" not in s.stderr()


# ------------------------------------------------------------------------------ exact answers of real clusters

WORD_COUNT = os.path.join(EXAMPLES, "word_count", "word_count.py")


def ctl_json(roo_bin, external, type_name, *flags):
    result = run_roo(roo_bin, "ctl", "-e", external, "-t", type_name, "--json", *flags)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return result.stdout


@pytest.mark.parametrize("size", [1, 2])
def test_exact_answers_of_word_count(cluster, receiver, roo_bin, size):
    """word_count: stateless "split into words" (stage 0), then key_by, then the state "count word". Every worker
    answers for the whole cluster, in Wallaroo's shapes; step ids are "<stage index * 1000 + worker index>"."""
    out = receiver()
    c = cluster(WORD_COUNT, size, out.address, sources=["Split and Count"])
    names = ["initializer", "worker1"][:size]
    quoted = ",".join('"%s"' % n for n in names)
    steps = ",".join('"%s":["%d"]' % (n, i) for i, n in enumerate(names))
    ones = ",".join('"%s":1' % n for n in names)
    groups = ",".join('"%s":%d' % (n, 256 // size) for n in names)
    expected = {
        "cluster-status-query":
            '{"worker_count":%d,"worker_names":[%s],"processing_messages":true}\n' % (size, quoted),
        "stateless-partition-query": '{"split into words":{%s}}\n' % steps,
        "stateless-partition-count-query": '{"split into words":{%s}}\n' % ones,
        "partition-count-query": '{"state_partitions":{"count word":{%s}},'
                                 '"stateless_partitions":{"split into words":{%s}}}\n' % (groups, ones),
    }
    for m in c.members:
        for type_name, answer in expected.items():
            assert ctl_json(roo_bin, m.external, type_name) == answer, (m.name, type_name)
        assert ctl_json(roo_bin, m.external, "cluster-status-query", "--roo-details") == (
            '{"worker_count":%d,"worker_names":[%s],"processing_messages":true,"missing_workers":[]}\n'
            % (size, quoted))
    partitions = json.loads(ctl_json(roo_bin, c.initializer.external, "partition-query"))
    assert partitions["stateless_partitions"] == json.loads(expected["stateless-partition-query"])
    owned = sorted(g for n in names for g in partitions["state_partitions"]["count word"][n])
    assert owned == list(range(256))
    c.stop()
