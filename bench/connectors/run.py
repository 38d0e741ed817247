#!/usr/bin/python3
"""Connectors against the TCP path, in one run: alphabet fed by a file connector into the two-phase-commit sink,
and the same alphabet over TCP (`roo send` -> `roo receive`).

    /usr/bin/python3 bench/connectors/run.py [--events N] [--runs R] [--credits C]

Systems, each --runs times, alternating:
  tcp        roo send --binary --msg-size 9 -> roo run bench/workloads/alphabet/app.py -> roo receive
  tcp-ckpt   the same with --checkpoint-dir, 1 s checkpoints (the TCP sink is at least once)
  conn       tests/e2e/apps/file_connector.py (MultiSourceConnector + FramedFileReader over the same file) ->
             roo run bench/connectors/apps/alphabet_connectors.py -> wallaroo.connectors.transactional_file_sink
  conn-ckpt  the same with 1 s checkpoints: the sink's output committed by the two-phase commit
events/s = N / (the N-th output line in the receiver's file (conn-ckpt: committed) - the sender's launch). A run
counts only when the output is exactly right (bench/workloads/alphabet/data.py check). Prints medians (min-max) and
the ratios to tcp.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(BENCH, "workloads", "alphabet"))
sys.path.insert(0, os.path.join(REPO, "python"))
from processes import BenchError, cleanup_children, commit_of, free_port, spawn, wait_for_text  # noqa: E402
import data  # noqa: E402
from wallaroo.connectors.transactional_file_sink import committed_output, stream_names  # noqa: E402

OUT = os.path.join(BENCH, "out", "connectors")
PY = "/usr/bin/python3"
READY = "Application is ready to work"


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([os.path.join(REPO, "python"), os.path.join(BENCH, "workloads", "alphabet")])
    return e


def count_lines(path, want, deadline, committed_dir=None):
    """Waits until `path` (or the committed output in `committed_dir`) holds `want` lines; returns the moment."""
    while time.monotonic() < deadline:
        if committed_dir is not None:
            names = stream_names(committed_dir) if os.path.isdir(committed_dir) else []
            data_ = committed_output(committed_dir, names[0]) if names else b""
        else:
            with open(path, "rb") as f:
                data_ = f.read()
        if data_.count(b"\n") >= want:
            return time.monotonic(), data_
        time.sleep(0.01)
    raise BenchError("%s: fewer than %d lines in time" % (path or committed_dir, want))


def run_tcp(roo, n, path, ckpt, run_dir):
    in_port, out_port = free_port(), free_port()
    out = os.path.join(run_dir, "out.txt")
    with open(out, "wb") as sink_out:
        receiver = spawn([roo, "receive", "--listen", "127.0.0.1:%d" % out_port], stdout=sink_out,
                         stderr=subprocess.DEVNULL)
    worker_log = os.path.join(run_dir, "worker.log")
    flags = ["--checkpoint-dir", run_dir, "--checkpoint-interval", "1s"] if ckpt else []
    with open(worker_log, "wb") as log:
        worker = spawn([roo, "run"] + flags + [os.path.join(BENCH, "workloads", "alphabet", "app.py"),
                       "--in", "Alphabet@127.0.0.1:%d" % in_port, "--out", "127.0.0.1:%d" % out_port],
                       stderr=log, env=env())
    wait_for_text(worker_log, READY, worker, 30, "roo run")
    started = time.monotonic()
    spawn([roo, "send", "--host", "127.0.0.1:%d" % in_port, "--file", path, "--binary", "--msg-size", "9",
           "--messages", str(n), "--batch-size", "10000", "--interval", "0", "--no-write"],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ended, output = count_lines(out, n, started + 300)
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    receiver.kill()
    return n / (ended - started), output


def run_conn(roo, n, path, ckpt, run_dir, credits):
    source_port, sink_port = free_port(), free_port()
    out_dir = os.path.join(run_dir, "sink")
    os.mkdir(out_dir)
    with open(os.path.join(run_dir, "sink.log"), "wb") as sink_log:
        spawn([PY, "-m", "wallaroo.connectors.transactional_file_sink", "--port", str(sink_port), "--cookie",
               "bench", "--output-dir", out_dir], stderr=sink_log, env=env())
    worker_log = os.path.join(run_dir, "worker.log")
    flags = ["--checkpoint-dir", run_dir, "--checkpoint-interval", "1s"] if ckpt else []
    with open(worker_log, "wb") as log:
        worker = spawn([roo, "run"] + flags + [os.path.join(HERE, "apps", "alphabet_connectors.py"),
                       "--source-port", str(source_port), "--sink-port", str(sink_port),
                       "--credits", str(credits)], stderr=log, env=env())
    wait_for_text(worker_log, READY, worker, 30, "roo run")
    wait_for_text(worker_log, r"connected(; stream| again)", worker, 30, "the sink connection")
    started = time.monotonic()
    spawn([PY, os.path.join(REPO, "tests", "e2e", "apps", "file_connector.py"), "--port", str(source_port),
           "--cookie", "bench", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
    deadline = started + 300
    if ckpt:
        ended, output = count_lines(None, n, deadline, committed_dir=out_dir)
    else:
        while not (os.path.isdir(out_dir) and stream_names(out_dir)):
            time.sleep(0.01)
        ended, output = count_lines(os.path.join(out_dir, stream_names(out_dir)[0] + ".out"), n, deadline)
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    return n / (ended - started), output


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--credits", type=int, default=1000)
    parser.add_argument("--systems", default="tcp,tcp-ckpt,conn,conn-ckpt")
    parser.add_argument("--roo", default=os.path.join(REPO, "build", "src", "cli", "roo"))
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    path = data.make(OUT, args.events)["files"][0][1]
    systems = args.systems.split(",")
    rates = dict((s, []) for s in systems)
    try:
        for run in range(args.runs):
            for system in systems:
                run_dir = os.path.join(OUT, "run-%s-%d" % (system, run))
                shutil.rmtree(run_dir, ignore_errors=True)
                os.makedirs(run_dir)
                ckpt = system.endswith("-ckpt")
                if system.startswith("tcp"):
                    rate, output = run_tcp(args.roo, args.events, path, ckpt, run_dir)
                else:
                    rate, output = run_conn(args.roo, args.events, path, ckpt, run_dir, args.credits)
                cleanup_children()
                wrong = data.check(output, args.events)
                if wrong:
                    print("  %s run %d: invalid (%s)" % (system, run + 1, wrong), flush=True)
                    continue
                rates[system].append(rate)
                print("  %s run %d: %s events/s" % (system, run + 1, format(int(rate), ",")), flush=True)
    finally:
        cleanup_children()
    base = statistics.median(rates["tcp"]) if rates.get("tcp") else None
    print("\nalphabet, %s events, %d runs, credits %d, commit %s, %s" % (
        format(args.events, ","), args.runs, args.credits, commit_of(), time.strftime("%Y-%m-%d")))
    print("| system | events/s median (min-max) | ratio to tcp |")
    print("|---|---|---|")
    for system in systems:
        r = rates[system]
        if not r:
            print("| %s | no valid run | |" % system)
            continue
        med = statistics.median(r)
        print("| %s | %s (%s-%s) | %s |" % (system, format(int(med), ","), format(int(min(r)), ","),
                                            format(int(max(r)), ","), "%.2f" % (med / base) if base else "-"))


if __name__ == "__main__":
    main()
