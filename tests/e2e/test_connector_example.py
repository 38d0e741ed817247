"""examples/celsius_connectors end to end, as its README runs it: `roo connector file-sink`, `roo run` and
`roo connector file-source` as three processes; and with checkpoints into the two-phase-commit sink. Oracle: the
output is exactly examples/celsius/expected.txt, in order."""
import os
import signal
import subprocess
import sys

from conftest import EXAMPLES, REPO, free_port, wait_until, worker_env

sys.path.insert(0, os.path.join(REPO, "python"))
from wallaroo.connectors.transactional_file_sink import committed_output, stream_names  # noqa: E402

FOLDER = os.path.join(EXAMPLES, "celsius_connectors")
READINGS = os.path.join(EXAMPLES, "celsius", "celsius.msg")


def expected():
    with open(os.path.join(EXAMPLES, "celsius", "expected.txt")) as f:
        return f.read().splitlines()


def spawn(argv, tmp_path, label):
    err = open(os.path.join(str(tmp_path), label + ".log"), "wb")
    return subprocess.Popen(argv, cwd=FOLDER, stdout=err, stderr=subprocess.STDOUT, env=worker_env())


def log(tmp_path, *labels):
    out = []
    for label in labels:
        with open(os.path.join(str(tmp_path), label + ".log"), "rb") as f:
            out.append("--- %s ---\n%s" % (label, f.read().decode("utf-8", "replace")))
    return "\n".join(out)


def run_example(roo_bin, tmp_path, sink_argv, worker_prefix):
    source_port, sink_port = free_port(), free_port()
    ports = ["--source-port", str(source_port), "--sink-port", str(sink_port)]
    sink = spawn(sink_argv(sink_port), tmp_path, "sink")
    worker = spawn([roo_bin, "run"] + worker_prefix + ["celsius_connectors.py"] + ports, tmp_path, "worker")
    try:
        feed = subprocess.run([roo_bin, "connector", "file-source", "--application-module", "celsius_connectors",
                               "--connector", "readings", "--readings-path", READINGS] + ports,
                              cwd=FOLDER, env=worker_env(), capture_output=True, timeout=60)
        assert feed.returncode == 0, feed.stderr.decode() + log(tmp_path, "worker", "sink")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, log(tmp_path, "worker", "sink")
        assert "stopped: 400 events in, 400 outputs written, 0 events failed, 0 events not delivered" in \
            log(tmp_path, "worker")
    finally:
        for p in (worker, sink):
            if p.poll() is None:
                p.kill()
                p.wait(10)


def test_celsius_connectors_file_source_to_file_sink(roo_bin, tmp_path):
    out = str(tmp_path / "conversions.txt")
    run_example(roo_bin, tmp_path, lambda port: [
        roo_bin, "connector", "file-sink", "--application-module", "celsius_connectors", "--connector",
        "conversions", "--conversions-path", out, "--sink-port", str(port)], [])
    with open(out) as f:
        assert f.read().splitlines() == expected()


def test_celsius_connectors_with_checkpoints_into_the_two_phase_commit_sink(roo_bin, tmp_path):
    out_dir = str(tmp_path / "out")
    os.mkdir(out_dir)
    run_example(roo_bin, tmp_path, lambda port: [
        "/usr/bin/python3", "-m", "wallaroo.connectors.transactional_file_sink", "--port", str(port), "--cookie",
        "celsius", "--output-dir", out_dir],
        ["--checkpoint-dir", str(tmp_path), "--checkpoint-interval", "100ms"])
    names = stream_names(out_dir)
    assert len(names) == 1, names
    assert committed_output(out_dir, names[0]).decode("ascii").splitlines() == expected()
