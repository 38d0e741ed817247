"""Connectors effectively-once end to end (issue 15; docs/connectors.md): an at-least-once connector source process
(tests/e2e/apps/file_connector.py: MultiSourceConnector + FramedFileReader) feeds a worker with checkpoints running an
inline sequence check (tests/e2e/apps/connector_sequence.py), whose connector sink is the reference two-phase-commit
sink (wallaroo.connectors.transactional_file_sink). Real processes, killed with SIGKILL and restarted with the same
command: the worker, the connector and the sink in turn.

Oracle: once the connector finished (the worker acknowledged the whole file), the sink's COMMITTED output holds every
"key,seq" of the input exactly once and no GAP line (a record lost or counted twice in state shows as a GAP).

ROO_FAULT_ROUNDS sets the kills (default 10); ROO_FAULT_SEED replays a loop.
"""
import collections
import os
import random
import signal
import struct
import subprocess
import sys
import time

from conftest import APPS, READY_LINE, REPO, free_port, wait_until, worker_env

sys.path.insert(0, os.path.join(REPO, "python"))
from wallaroo.connectors.transactional_file_sink import committed_output, stream_names  # noqa: E402

APP = os.path.join(APPS, "connector_sequence.py")
FEEDER = os.path.join(APPS, "file_connector.py")
ROUNDS = int(os.environ.get("ROO_FAULT_ROUNDS", "10"))
SEED = int(os.environ.get("ROO_FAULT_SEED", str(random.randrange(1 << 30))))
KEYS = 10
PYTHON = "/usr/bin/python3"


def records_file(path, per_key):
    """KEYS * per_key framed records "k<i>,<seq>", seq-major (every key advances together)."""
    lines = ["k%d,%d" % (key, seq) for seq in range(per_key) for key in range(KEYS)]
    with open(path, "wb") as f:
        for line in lines:
            data = line.encode("ascii")
            f.write(struct.pack(">I", len(data)) + data)
    return lines


class Process(object):
    """A restartable process: the same argv each time, stderr kept per start."""

    def __init__(self, argv, log_dir, label, env):
        self.argv, self.log_dir, self.label, self.env = argv, log_dir, label, env
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        self.log = os.path.join(self.log_dir, "%s-%d.log" % (self.label, self.starts))
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=err, env=self.env)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def stderr(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def all_logs(self):
        out = []
        for n in range(1, self.starts + 1):
            path = os.path.join(self.log_dir, "%s-%d.log" % (self.label, n))
            with open(path, "rb") as f:
                out.append("--- %s start %d ---\n%s" % (self.label, n, f.read().decode("utf-8", "replace")))
        return "\n".join(out)


def committed_lines(out_dir):
    names = stream_names(out_dir) if os.path.isdir(out_dir) else []
    assert len(names) <= 1, names
    if not names:
        return []
    return committed_output(out_dir, names[0]).decode("ascii").splitlines()


def test_effectively_once_under_kill_9_of_worker_connector_and_sink(roo_bin, tmp_path):
    rng = random.Random(SEED)
    print("connector fault loop: ROO_FAULT_ROUNDS=%d ROO_FAULT_SEED=%d" % (ROUNDS, SEED))
    per_key = max(300, 60 * ROUNDS)
    lines = records_file(str(tmp_path / "records.bin"), per_key)
    total = len(lines)
    out_dir = str(tmp_path / "out")
    os.mkdir(out_dir)
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    source_port, sink_port = free_port(), free_port()
    env = worker_env()
    logs = str(tmp_path)
    sink = Process([PYTHON, "-m", "wallaroo.connectors.transactional_file_sink", "--port", str(sink_port),
                    "--cookie", "cookie", "--output-dir", out_dir], logs, "sink", env)
    worker = Process([roo_bin, "run", "--checkpoint-dir", str(ckdir), "--checkpoint-interval", "100ms", APP,
                      "--source-port", str(source_port), "--sink-port", str(sink_port)], logs, "worker", env)
    feeder = Process([PYTHON, FEEDER, "--port", str(source_port), "--delay", "0.0005", str(tmp_path / "records.bin")],
                     logs, "feeder", env)
    processes = {"worker": worker, "connector": feeder, "sink": sink}

    def everything():
        return "\n".join(p.all_logs() for p in processes.values() if p.starts)

    sink.start()
    worker.start()
    feeder.start()
    victims = ["worker", "connector", "sink"]
    started = time.monotonic()
    try:
        for round_index in range(ROUNDS):
            target = total * (round_index + 1) // (ROUNDS + 2)
            assert wait_until(lambda: len(committed_lines(out_dir)) >= target, 90, 0.05), \
                "round %d: committed output stuck at %d of %d\n%s" % (
                    round_index, len(committed_lines(out_dir)), target, everything())
            time.sleep(rng.uniform(0, 0.15))
            victim = processes[victims[round_index % len(victims)]]
            assert victim.proc.poll() is None, "round %d: %s exited by itself\n%s" % (
                round_index, victim.label, everything())
            victim.kill()
            time.sleep(rng.uniform(0, 0.3))
            victim.start()
        assert wait_until(lambda: feeder.proc.poll() is not None, 180, 0.1), \
            "the connector did not finish\n" + everything()
        assert feeder.proc.returncode == 0, everything()
        # The connector ends once its EOS is acknowledged, i.e. after a checkpoint covering every record completed;
        # that checkpoint's output commits right after.
        assert wait_until(lambda: len(committed_lines(out_dir)) >= total, 30, 0.05), everything()
        # The last restart may be the worker's, after the connector finished: a SIGTERM must find it started.
        assert wait_until(lambda: READY_LINE in worker.stderr(), 30, 0.05), everything()
        worker.stop()
        assert worker.proc.returncode == 0, everything()
    finally:
        for p in processes.values():
            p.kill()
    committed = committed_lines(out_dir)
    print("connector fault loop (seed %d): %d rounds in %.1f s, %d records, %d committed lines"
          % (SEED, ROUNDS, time.monotonic() - started, total, len(committed)))
    gaps = [line for line in committed if line.startswith("GAP")]
    assert gaps == [], gaps[:10]
    repeated = [line for line, n in collections.Counter(committed).items() if n > 1]
    assert sorted(committed) == sorted(lines), "missing %s, repeated %s" % (
        sorted(set(lines) - set(committed))[:10], repeated[:10])
