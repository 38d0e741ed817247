#!/usr/bin/python3
"""Checkpoints on one worker: the executor's pause and the write per checkpoint, and recovery after kill -9.

Run from anywhere (see bench/README.md, "Checkpoints and recovery"):

    /usr/bin/python3 bench/checkpoint/run.py            # table, ~2-3 min
    /usr/bin/python3 bench/checkpoint/run.py --json     # one JSON object on stdout (bench/run uses it)

The app, bench/checkpoint/apps/keyed_changes.py, is a generator source (replayable) that first creates
every one of N keys once, as fast as it goes, then changes P % of the N keys per second, paced in its
own code and spread evenly over the second; every change writes one output line. Every run is
`roo run --checkpoint-dir DIR --checkpoint-interval 1s APP --out 127.0.0.1:PORT --keys N
--change-percent P` with a fresh DIR under bench/out/checkpoint/, its output read by a socket reader
in this script.

1. Pause and duration, per case (N, P) = (10k, 1 %), (1M, 1 %), (10k, 100 %): read from the worker's
   own lines `checkpoint I complete: K keys changed, X written in T ms (executor paused P ms)`.
   The checkpoints taken while the keys are being created are reported apart (the first of them is
   full); of the steady ones, the first 2 after the app says its changes start are skipped and the
   next --checkpoints (default 20) are summarised: keys changed, pause and write p50/p99/min/max,
   bytes, and pause per changed key. Then SIGTERM; the worker must exit 0 with 0 events failed.
2. Recovery, N = --big-keys (default 1M), P = 1 %: once the changes run and 2 checkpoints holding
   every key are complete, SIGKILL the worker, wait for it, and start it again with the same command;
   measure SIGKILL -> the first output byte on the sink connection the new process opens, split into
   SIGKILL -> reaped, start -> `recovery from checkpoint I started`, the recovery itself (the line
   `... complete: K keys restored in T ms`), and complete -> first output. K must be N. Repeated
   --recoveries times (default 3) in the same folder, with 2 more checkpoints between rounds.
Times are this script's clock (time.time()) when it reads each line from the worker's stderr pipe
or the first bytes from the socket; the worker's start is the moment before it is spawned.
"""
import argparse
import datetime
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import processes  # noqa: E402
from processes import BenchError, commit_of, spawn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
OUT = os.path.join(BENCH, "out", "checkpoint")
APP = os.path.join(HERE, "apps", "keyed_changes.py")
DEFAULT_ROO = os.path.join(REPO, "build", "src", "cli", "roo")
SKIP_AFTER_MARKER = 2
MARKER = re.compile(r"keyed_changes: changes start at index (\d+)")
CHECKPOINT = re.compile(r"checkpoint (\d+) complete: (\d+) keys changed, (\d+) (B|KiB|MiB) written in ([\d.]+) ms "
                        r"\(executor paused ([\d.]+) ms\)(; compacted)?")
RECOVERY_STARTED = re.compile(r"recovery from checkpoint (\d+) started")
RECOVERY_COMPLETE = re.compile(r"recovery from checkpoint (\d+) complete: (\d+) keys restored in (\d+) ms")
STOPPED = re.compile(r"stopped: (\d+) events in, (\d+) outputs written, (\d+) events failed, (\d+) events not delivered")
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 * 1024}


def say(text):
    print(text, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ---------------------------------------------------------------- the sink and the worker

class Receiver:
    """A TCP listener on 127.0.0.1 that reads every connection to its end and notes, per connection, when it was
    accepted and when its first byte arrived."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = []  # dicts: accepted, first_byte, bytes
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            entry = {"accepted": time.time(), "first_byte": None, "bytes": 0}
            with self.lock:
                self.connections.append(entry)
            threading.Thread(target=self._read, args=(conn, entry), daemon=True).start()

    @staticmethod
    def _read(conn, entry):
        with conn:
            while True:
                data = conn.recv(1 << 16)
                if not data:
                    return
                if entry["first_byte"] is None:
                    entry["first_byte"] = time.time()
                entry["bytes"] += len(data)

    def first_byte_after(self, index):
        """The first byte's time on the first connection numbered >= index that has one, or None."""
        with self.lock:
            for entry in self.connections[index:]:
                if entry["first_byte"] is not None:
                    return entry["first_byte"]
        return None

    def close(self):
        self.sock.close()


class Worker:
    """`roo run ...` with its stderr read line by line on a thread: each line is kept with the time it was read and
    copied to `log`."""

    def __init__(self, argv, log):
        self.log_path = log
        self.lines = []  # (time.time(), line)
        self.lock = threading.Lock()
        self.started = time.time()
        self.proc = spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        with open(self.log_path, "w") as log:
            for raw in self.proc.stderr:
                now = time.time()
                line = raw.decode("utf-8", "replace")
                log.write(line)
                log.flush()
                with self.lock:
                    self.lines.append((now, line))

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def tail(self, count=15):
        return "".join(line for _, line in self.snapshot()[-count:])

    def wait_for(self, predicate, timeout, what):
        """Polls predicate(lines) until it returns something true; BenchError when the worker exits first or
        `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self.snapshot())
            if value:
                return value
            if self.proc.poll() is not None:
                self.reader.join(5)
                value = predicate(self.snapshot())
                if value:
                    return value
                raise BenchError("the worker exited (%s) before %s; its log %s ends:\n%s"
                                 % (self.proc.returncode, what, self.log_path, self.tail()))
            if time.monotonic() > deadline:
                raise BenchError("no %s within %.0f s; the worker's log %s ends:\n%s"
                                 % (what, timeout, self.log_path, self.tail()))
            time.sleep(0.005)

    def stop(self):
        """SIGTERM; the worker must exit 0 and report no failed event. Returns its `stopped:` counts."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise BenchError("the worker did not stop within 120 s of SIGTERM; log %s" % self.log_path)
        self.reader.join(10)
        stopped = [STOPPED.search(line) for _, line in self.snapshot()]
        stopped = [m for m in stopped if m]
        if code != 0 or not stopped or int(stopped[-1].group(3)) != 0:
            raise BenchError("the worker exited %s after SIGTERM (%s); log %s ends:\n%s"
                             % (code, stopped[-1].group(0) if stopped else "no stopped: line", self.log_path,
                                self.tail()))
        return [int(x) for x in stopped[-1].groups()]


def worker_argv(opts, folder, port, keys, percent):
    return [opts.roo, "run", "--checkpoint-dir", folder, "--checkpoint-interval", opts.interval, APP,
            "--out", "127.0.0.1:%d" % port, "--keys", str(keys), "--change-percent", "%g" % percent]


def checkpoints_in(lines):
    """[(time read, id, keys changed, bytes, write ms, pause ms, compacted)] of every checkpoint line."""
    found = []
    for when, line in lines:
        m = CHECKPOINT.search(line)
        if m:
            found.append({"read_at": when, "id": int(m.group(1)), "keys": int(m.group(2)),
                          "bytes": int(m.group(3)) * UNITS[m.group(4)], "write_ms": float(m.group(5)),
                          "pause_ms": float(m.group(6)), "compacted": bool(m.group(7))})
    return found


def marker_time(lines):
    for when, line in lines:
        if MARKER.search(line):
            return when
    return None


def percentile(values, fraction):
    """Nearest-rank percentile (p99 of 20 values is the largest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered) - 1e-9))
    return ordered[rank - 1]


def spread(values):
    return {"p50": statistics.median(values), "p99": percentile(values, 0.99), "min": min(values),
            "max": max(values)}


def fresh_folder(opts, tag):
    os.makedirs(OUT, exist_ok=True)
    return tempfile.mkdtemp(prefix="ckpt-%s-" % tag, dir=OUT)


def forget_folder(opts, folder):
    if not opts.keep:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- 1. pause and duration

def pause_case(opts, keys, percent):
    tag = "%dkeys-%gpct" % (keys, percent)
    folder = fresh_folder(opts, tag)
    receiver = Receiver()
    load = loadavg()
    say("checkpoint pause: %s keys, %g %% changing per interval, %d steady checkpoints ..."
        % ("{:,}".format(keys), percent, opts.checkpoints))
    worker = Worker(worker_argv(opts, folder, receiver.port, keys, percent), os.path.join(OUT, "pause-%s.log" % tag))
    wanted = SKIP_AFTER_MARKER + opts.checkpoints
    try:
        worker.wait_for(marker_time, 60 + keys / 20_000, "the app's 'changes start' line")

        def enough(lines):
            at = marker_time(lines)
            return at is not None and len([c for c in checkpoints_in(lines) if c["read_at"] > at]) >= wanted

        worker.wait_for(enough, 60 + 4 * wanted * opts.interval_s, "%d checkpoints after the changes started" % wanted)
        counts = worker.stop()
    finally:
        receiver.close()
        forget_folder(opts, folder)
    lines = worker.snapshot()
    at = marker_time(lines)
    every = checkpoints_in(lines)
    creation = [c for c in every if c["read_at"] <= at]
    steady = [c for c in every if c["read_at"] > at][SKIP_AFTER_MARKER:wanted]
    if not every:
        raise BenchError("%s: no checkpoint line; log %s" % (tag, worker.log_path))
    first = every[0]
    result = {
        "keys": keys, "percent": percent, "loadavg_1min": load, "log": os.path.relpath(worker.log_path, REPO),
        "first": first, "creation": creation,
        "creation_keys": sum(c["keys"] for c in creation),
        "steady": steady, "events_in": counts[0], "outputs": counts[1],
        "keys_changed": spread([c["keys"] for c in steady]),
        "pause_ms": spread([c["pause_ms"] for c in steady]),
        "write_ms": spread([c["write_ms"] for c in steady]),
        "bytes": spread([c["bytes"] for c in steady]),
        "pause_us_per_key": statistics.median(c["pause_ms"] * 1000 / c["keys"] for c in steady if c["keys"]),
        "first_pause_us_per_key": first["pause_ms"] * 1000 / first["keys"] if first["keys"] else None,
        "compactions": sum(1 for c in steady if c["compacted"]),
    }
    say("  first checkpoint %d (full): %s keys, pause %.1f ms, write %.1f ms; steady: median %d keys changed, "
        "pause p50 %.2f p99 %.2f ms, write p50 %.1f p99 %.1f ms, load %.1f" % (
            first["id"], "{:,}".format(first["keys"]), first["pause_ms"], first["write_ms"],
            result["keys_changed"]["p50"], result["pause_ms"]["p50"], result["pause_ms"]["p99"],
            result["write_ms"]["p50"], result["write_ms"]["p99"], load))
    return result


# ---------------------------------------------------------------- 2. recovery after kill -9

def recovery(opts):
    keys = opts.big_keys
    folder = fresh_folder(opts, "recovery")
    receiver = Receiver()
    argv = worker_argv(opts, folder, receiver.port, keys, 1)
    say("recovery: %s keys, 1 %% changing per interval, %d kill -9 and restart rounds ..."
        % ("{:,}".format(keys), opts.recoveries))
    worker = Worker(argv, os.path.join(OUT, "recovery-0.log"))
    rounds = []
    try:
        worker.wait_for(marker_time, 60 + keys / 20_000, "the app's 'changes start' line")

        def checkpoints_after(start, count):
            def check(lines):
                return len([c for c in checkpoints_in(lines) if c["read_at"] > start]) >= count
            return check

        worker.wait_for(checkpoints_after(marker_time(worker.snapshot()), 2), 60 + 8 * opts.interval_s,
                        "2 checkpoints after the changes started")
        for index in range(1, opts.recoveries + 1):
            before = checkpoints_in(worker.snapshot())[-1]["id"]
            load = loadavg()
            connections = len(receiver.connections)
            killed = time.time()
            worker.proc.send_signal(signal.SIGKILL)
            worker.proc.wait()
            reaped = time.time()
            worker.reader.join(5)
            worker = Worker(argv, os.path.join(OUT, "recovery-%d.log" % index))
            started = worker.started

            def line_of(pattern):
                def find(lines):
                    for when, line in lines:
                        m = pattern.search(line)
                        if m:
                            return when, m
                    return None
                return find

            rs_at, rs = worker.wait_for(line_of(RECOVERY_STARTED), 120, "'recovery from checkpoint ... started'")
            rc_at, rc = worker.wait_for(line_of(RECOVERY_COMPLETE), 300, "'recovery from checkpoint ... complete'")
            out_at = worker.wait_for(lambda lines: receiver.first_byte_after(connections), 120,
                                     "an output on a new sink connection")
            restored = int(rc.group(2))
            if restored != keys:
                raise BenchError("round %d: %d keys restored, want %d; log %s" % (index, restored, keys,
                                                                                  worker.log_path))
            if int(rc.group(1)) < before:
                raise BenchError("round %d: recovered checkpoint %s, but %d was complete before the kill"
                                 % (index, rc.group(1), before))
            row = {"round": index, "checkpoint": int(rc.group(1)), "keys_restored": restored, "loadavg_1min": load,
                   "kill_to_reaped_s": reaped - killed, "start_to_recovery_started_s": rs_at - started,
                   "recovery_logged_s": int(rc.group(3)) / 1000, "recovery_lines_s": rc_at - rs_at,
                   "complete_to_first_output_s": out_at - rc_at, "kill_to_first_output_s": out_at - killed,
                   "log": os.path.relpath(worker.log_path, REPO)}
            say("  round %d: kill -> first output %.2f s (reaped %.3f, start -> recovery started %.2f, recovery "
                "%.2f, -> first output %.3f), checkpoint %d, %s keys, load %.1f" % (
                    index, row["kill_to_first_output_s"], row["kill_to_reaped_s"],
                    row["start_to_recovery_started_s"], row["recovery_logged_s"], row["complete_to_first_output_s"],
                    row["checkpoint"], "{:,}".format(restored), load))
            # The next round restores a checkpoint this process wrote; its first one after a recovery is shown too.
            worker.wait_for(checkpoints_after(rc_at, 2), 60 + 8 * opts.interval_s, "2 checkpoints after recovery")
            after = [c for c in checkpoints_in(worker.snapshot()) if c["read_at"] > rc_at]
            row["first_checkpoint_after"] = after[0]
            rounds.append(row)
        worker.stop()
    finally:
        receiver.close()
        forget_folder(opts, folder)
    summary = {}
    for key in ("kill_to_first_output_s", "kill_to_reaped_s", "start_to_recovery_started_s", "recovery_logged_s",
                "complete_to_first_output_s"):
        values = [r[key] for r in rounds]
        summary[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return {"keys": keys, "rounds": rounds, "summary": summary}


# ---------------------------------------------------------------- report

def human_bytes(n):
    if n >= 10 * 1024 * 1024:
        return "%.0f MiB" % (n / 1024 / 1024)
    if n >= 10 * 1024:
        return "%.0f KiB" % (n / 1024)
    return "%d B" % n


def render(report):
    lines = ["Checkpoints on one worker (`bench/checkpoint/run.py`), app `bench/checkpoint/apps/keyed_changes.py`, "
             "`--checkpoint-interval %s`. Measured %s on %d cores; roo %s; 1-minute load average %s at the cases' "
             "starts." % (report["interval"], report["date"], report["cpus"], report["commit"],
                          ", ".join("%.1f" % x for x in report["loadavg"]))]
    if report.get("pause"):
        lines += ["",
                  "Pause = the executor's stop to serialize the changed keys' state and hand it to the writer "
                  "thread; write = that thread's file write, fsync and manifest. Steady checkpoints: %d per case, "
                  "after the keys were created and 2 more were skipped; p99 is nearest-rank (with fewer than 100 "
                  "checkpoints, the largest)."
                  % report["checkpoints"],
                  "",
                  "| state | changing per interval | keys changed per checkpoint (median) | pause p50 | pause p99 "
                  "| pause min–max | µs pause per changed key | write p50 | write p99 | bytes per checkpoint | "
                  "first checkpoint (full): keys, pause, write | load |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for c in report["pause"]:
            f = c["first"]
            lines.append("| %s keys | %g %% | %s | **%.2f ms** | **%.2f ms** | %.2f–%.2f ms | %.2f | %.1f ms | %.1f ms "
                         "| %s | %s keys, %.1f ms, %.1f ms | %.1f |" % (
                             "{:,}".format(c["keys"]), c["percent"], "{:,.0f}".format(c["keys_changed"]["p50"]),
                             c["pause_ms"]["p50"], c["pause_ms"]["p99"], c["pause_ms"]["min"], c["pause_ms"]["max"],
                             c["pause_us_per_key"], c["write_ms"]["p50"], c["write_ms"]["p99"],
                             human_bytes(c["bytes"]["p50"]), "{:,}".format(f["keys"]), f["pause_ms"],
                             f["write_ms"], c["loadavg_1min"]))
        for c in report["pause"]:
            if len(c["creation"]) > 1:
                lines.append("")
                lines.append("While the %s keys were created: %d checkpoints (%s keys changed in all), pauses %s ms."
                             % ("{:,}".format(c["keys"]), len(c["creation"]), "{:,}".format(c["creation_keys"]),
                                ", ".join("%.0f" % x["pause_ms"] for x in c["creation"])))
    rec = report.get("recovery")
    if rec:
        s = rec["summary"]
        lines += ["",
                  "Recovery after `kill -9` with %s keys of state (restart with the same command; %d rounds): "
                  "median (min–max), seconds." % ("{:,}".format(rec["keys"]), len(rec["rounds"])),
                  "",
                  "| kill → first output | kill → reaped | start → `recovery … started` | recovery (its line) "
                  "| complete → first output |",
                  "|---|---|---|---|---|",
                  "| **%s** | %s | %s | %s | %s |" % tuple(
                      "%.2f (%.2f–%.2f)" % (s[k]["median"], s[k]["min"], s[k]["max"]) for k in (
                          "kill_to_first_output_s", "kill_to_reaped_s", "start_to_recovery_started_s",
                          "recovery_logged_s", "complete_to_first_output_s")),
                  "",
                  "Rounds: " + "; ".join("checkpoint %d, %.2f s, load %.1f, then the first checkpoint: %s keys, "
                                         "pause %.1f ms" % (r["checkpoint"], r["kill_to_first_output_s"],
                                                            r["loadavg_1min"],
                                                            "{:,}".format(r["first_checkpoint_after"]["keys"]),
                                                            r["first_checkpoint_after"]["pause_ms"])
                                         for r in rec["rounds"]) + "."]
    lines.append("")
    lines.append("Wall time %.0f s." % report["seconds"])
    return "\n".join(lines)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--roo", default=DEFAULT_ROO, help="the roo binary (default build/src/cli/roo)")
    p.add_argument("--small-keys", type=int, default=10_000, help="keys of the small table (default 10,000)")
    p.add_argument("--big-keys", type=int, default=1_000_000, help="keys of the big table (default 1,000,000)")
    p.add_argument("--checkpoints", type=int, default=20, help="steady checkpoints per case (default 20)")
    p.add_argument("--recoveries", type=int, default=3, help="kill -9 and restart rounds (default 3)")
    p.add_argument("--interval", default="1s", help="--checkpoint-interval (default 1s)")
    p.add_argument("--no-pause", action="store_true", help="skip the pause measurement")
    p.add_argument("--no-recovery", action="store_true", help="skip the recovery measurement")
    p.add_argument("--keep", action="store_true", help="keep the checkpoint folders under bench/out/checkpoint/")
    opts = p.parse_args()
    m = re.fullmatch(r"([\d.]+)(ms|s)?", opts.interval)
    if not m:
        p.error("--interval: want e.g. 1s or 500ms")
    opts.interval_s = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    return opts


def main():
    opts = parse_args()
    if not os.access(opts.roo, os.X_OK):
        raise BenchError("no roo binary at %s; build it with: cmake --build %s -j2 --target roo"
                         % (opts.roo, os.path.join(REPO, "build")))
    opts.roo = os.path.abspath(opts.roo)
    os.makedirs(OUT, exist_ok=True)
    began = time.monotonic()
    report = {"benchmark": "checkpoints and recovery, one worker",
              "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"), "commit": commit_of(),
              "roo": opts.roo, "cpus": os.cpu_count(), "interval": opts.interval, "checkpoints": opts.checkpoints,
              "loadavg": []}
    if not opts.no_pause:
        report["pause"] = []
        for keys, percent in ((opts.small_keys, 1), (opts.big_keys, 1), (opts.small_keys, 100)):
            report["pause"].append(pause_case(opts, keys, percent))
            report["loadavg"].append(report["pause"][-1]["loadavg_1min"])
    if not opts.no_recovery:
        report["recovery"] = recovery(opts)
        report["loadavg"] += [r["loadavg_1min"] for r in report["recovery"]["rounds"]]
    report["seconds"] = time.monotonic() - began
    if opts.json:
        print(json.dumps(report, indent=1, sort_keys=True))
    else:
        print(render(report))


if __name__ == "__main__":
    processes.run_main(main, "bench/checkpoint/run.py")
