"""Growing and shrinking a cluster with checkpoints whose output goes to a connector sink (issue 16; docs/cluster.md,
"A connector sink with checkpoints"; docs/connectors-sink.md, "Growing and shrinking").

Every worker has its own stream to the sink, "Kafka rescale count-w-<worker>-id-0", committed with the checkpoints by
a two-phase commit. A leaving worker takes part in no checkpoint after its round: at its move it hands what its stream
has not committed to the initializer, whose next checkpoint commits it in the initializer's stream, and its new
session with the sink aborts the rounds no complete checkpoint holds (and commits those one does).

Real workers, the session's real broker (the Kafka source of kafka_apps/rescale_count.py, keyed messages from
test_rescale_kafka's SteadyProducer), the reference 2PC sink as its own process (python -m
wallaroo.connectors.transactional_file_sink), kill -9 where a test says so.

The oracle reads the COMMITTED output of every stream (`CommittedStreams`): each key's counts 1..n exactly once
across the streams, no GAP line (test_rescale's assert_exact_counts), and within each stream each key's counts rise
(a key's outputs keep their order in the stream they went to); every stream ends with no round left undecided.

Env: ROO_RESCALE_ROUNDS (rounds of the crash test; CI default 1, more on demand).
"""
import collections
import json
import os
import time

from conftest import free_port, wait_until
from test_connector_sink import Sink
from test_rescale import assert_exact_counts
from test_rescale_kafka import (SteadyProducer, grow_to_three_and_shrink_to_one_handing_output_over,
                                shrink_with_the_initializer_killed_after_the_hand_off, start)
from test_rescale_resilience import with_checkpoints

from wallaroo.connectors.transactional_file_sink import committed_output, stream_names


class CommittedStreams(object):
    """The committed lines of every stream in the sink's folder, with the receiver's interface for test_rescale's
    helpers (lines, wait_for, wait_quiet). Lines are "<key>,<count>,<worker>"."""

    def __init__(self, sink):
        self.sink = sink

    def streams(self):
        return dict((name, committed_output(self.sink.out_dir, name).decode("utf-8").splitlines())
                    for name in stream_names(self.sink.out_dir))

    def lines(self):
        return [line for lines in self.streams().values() for line in lines]

    def wait_for(self, predicate, timeout):
        return wait_until(lambda: predicate(self), timeout, interval=0.1)

    def wait_quiet(self, seconds):
        seen = -1
        while seen != len(self.lines()):
            seen = len(self.lines())
            time.sleep(seconds)

    def undecided(self):
        """{stream: the transactions it holds prepared, neither committed nor aborted}."""
        pending = {}
        for name in stream_names(self.sink.out_dir):
            states = {}
            with open(os.path.join(self.sink.out_dir, name + ".txnlog")) as log:
                for entry in map(json.loads, log):
                    if "phase1" in entry:
                        states[entry["phase1"]] = "prepared"
                    elif "commit" in entry or "abort" in entry:
                        states[entry.get("commit", entry.get("abort"))] = "decided"
            left = sorted(txn for txn, state in states.items() if state == "prepared")
            if left:
                pending[name] = left
        return pending


def assert_every_output_once_in_order_per_stream(out, sent, logs):
    """Every key's counts 1..n once across the streams; within a stream, each key's counts rise; no stream holds a
    round undecided (a leaver's new session resolved its own)."""
    assert_exact_counts(out, sent, logs)
    for name, lines in out.streams().items():
        per_key = collections.defaultdict(list)
        for line in lines:
            key, n, _worker = line.split(",")
            per_key[key].append(int(n))
        wrong = sorted((key, ns[:5]) for key, ns in per_key.items() if ns != sorted(ns))
        assert not wrong, "stream %s: keys whose counts fall (key, first counts): %s\n%s" % (name, wrong[:5], logs())
    assert out.wait_for(lambda o: not o.undecided(), 10), "rounds left undecided: %s\n%s" % (out.undecided(), logs())


def stream(name):
    return "Kafka rescale count-w-%s-id-0" % name


def start_with_connector_sink(kafka, cluster, receiver, workers, hint, tmp_path, size=1, app_args=(), **kwargs):
    sink = Sink(workers, tmp_path / "sink-out", free_port())
    topic, group, _unused, c = start(kafka, cluster, receiver, hint, size=size, run_flags=with_checkpoints(tmp_path),
                                     app_args=["--connector-out", str(sink.port)] + list(app_args), **kwargs)
    return topic, group, sink, CommittedStreams(sink), c


def test_with_checkpoints_a_connector_sink_grows_and_shrinks_with_every_output_committed_once(
        kafka, cluster, receiver, workers, roo_bin, tmp_path):
    """1 -> 2 -> 3 workers, then worker1 and worker2 shrunk out, one at a time, under a producer; checkpoints every
    200 ms. Each leaver hands its uncommitted output to the initializer at its move (logged, more than 0 batches), and
    its stream keeps only what its checkpoints committed; the union of the committed streams is every key's counts
    1..n once."""
    topic, _group, sink, out, c = start_with_connector_sink(kafka, cluster, receiver, workers, "cxgrow", tmp_path)

    def kept_its_committed_output(leaver, batches):
        assert "handed %s uncommitted batches to a worker that stays; stream '%s' keeps its committed" % (
            batches, stream(leaver.name)) in leaver.stderr(), c.logs()

    sent = grow_to_three_and_shrink_to_one_handing_output_over(roo_bin, c, out, SteadyProducer(kafka, topic),
                                                               on_leaver=kept_its_committed_output)
    assert_every_output_once_in_order_per_stream(out, sent, c.logs)
    assert sorted(out.streams()) == sorted(stream(name) for name in ("initializer", "worker1", "worker2"))
    c.stop(via=0)
    assert sink.lines() == [], sink.lines()  # the sink refused nothing


def test_with_checkpoints_a_connector_sink_rolls_back_a_crash_right_after_a_shrink_with_every_output_once(
        kafka, cluster, receiver, workers, roo_bin, tmp_path):
    """2 workers; worker1 shrunk out, and kill -9 of the initializer once worker1 handed its output over, while the
    initializer restores the leaver's key groups (key_count's restore sleeps: the checkpoint after the round waits
    for it), so that worker1's handed output sits in the initializer's stream uncommitted. The cluster rolls back to
    the checkpoint before the shrink: both started again, worker1's new session resolves its stream, the shrink goes
    through when asked again, and the committed streams hold every output once. ROO_RESCALE_ROUNDS rounds (CI: 1)."""
    topic, _group, _sink, out, c = start_with_connector_sink(kafka, cluster, receiver, workers, "cxcrash", tmp_path,
                                                             size=2, app_args=["--slow-restore-ms", "100"],
                                                             check_exit=False)
    sent = shrink_with_the_initializer_killed_after_the_hand_off(roo_bin, c, out, SteadyProducer(kafka, topic))
    assert_every_output_once_in_order_per_stream(out, sent, c.logs)
    c.stop(via=0)
