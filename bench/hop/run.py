#!/usr/bin/python3
"""The cost of an inter-worker hop: alphabet on one worker and on a 2-worker cluster.

Run from anywhere (see bench/README.md, "Inter-worker hops"):

    /usr/bin/python3 bench/hop/run.py            # table, ~2-3 min
    /usr/bin/python3 bench/hop/run.py --json     # one JSON object on stdout

Cases, each --runs times (default 5) with --events events (default 1,000,000):

  a   `roo run APP`: one worker.
  b   `roo run --workers 2 APP`, all input sent to the initializer's --in only. After the
      key_by, the events whose letter's key group belongs to worker1 hop there; nothing
      else differs from (a), so (CPU_b - CPU_a) / hopped events is the CPU cost of a hop
      (sending side + receiving side).
  c   `roo run --workers 2 APP`, input spread over both workers' --in (roo send's
      round-robin: message i goes to worker i mod 2); about half the events hop.

APP is examples/alphabet/alphabet.py, whose key_by is its first stage, so events hop as
their raw source frame (the receiver decodes it again), and bench/hop/apps/alphabet_pickled.py,
the same app with a stateless computation before the key_by, so events hop pickled.
(a) and (b) are measured for both apps; (c) for alphabet.

Per run: `roo receive --expect N --stats` (its stdout kept, to check the outputs), the
cluster, `roo send` of the whole file at full speed. Throughput = N / (first -> last
output byte, timed by roo receive). CPU = utime + stime of every worker process from
/proc/PID/stat (the workers are the `roo run --workers` supervisor's children; for one
worker, the `roo run` process itself), before and after the events, summed. Checks: the
receiver counts exactly N lines; every letter has exactly its number of votes as lines
and its last total is the sum of its votes; every worker exits 0 after SIGTERM with
`stopped: ...` counts that add up to N events in, N outputs written, 0 failed, 0 not delivered, and each
worker wrote exactly the outputs of the letters it owns (FNV-1a of the key bytes mod 256
key groups, group g on worker g mod 2; the same function computes the hopped events).
"""
import argparse
import collections
import datetime
import json
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import processes  # noqa: E402
from processes import BenchError, commit_of, spawn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
OUT = os.path.join(BENCH, "out", "hop")
DEFAULT_ROO = os.path.join(REPO, "build", "src", "cli", "roo")
READY = "|~~ INIT PHASE III: Application is ready to work! ~~|"
APPS = {
    "raw": os.path.join(REPO, "examples", "alphabet", "alphabet.py"),
    "pickled": os.path.join(HERE, "apps", "alphabet_pickled.py"),
}
KEY_GROUPS = 256
CLK_TCK = os.sysconf("SC_CLK_TCK")
# (case id, app, workers, spread the input over every worker's --in)
CASES = [
    ("a", "raw", 1, False),
    ("b", "raw", 2, False),
    ("c", "raw", 2, True),
    ("a'", "pickled", 1, False),
    ("b'", "pickled", 2, False),
]
CASE_LABELS = {
    "a": "1 worker",
    "b": "2 workers, all input to the initializer",
    "c": "2 workers, input spread over both",
    "a'": "1 worker",
    "b'": "2 workers, all input to the initializer",
}



# ---------------------------------------------------------------- processes and /proc

def free_port_pair():
    """A port P with P+1 also free (worker i listens on --in port + i)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket() as s1:
                s1.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise BenchError("no two consecutive free ports found")


def wait_for(predicate, proc, timeout, what, log):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            raise BenchError("%s exited (%s) first; log %s ends:\n%s" % (what, proc.returncode, log, tail(log)))
        if time.monotonic() > deadline:
            raise BenchError("%s: not within %.0f s; log %s ends:\n%s" % (what, timeout, log, tail(log)))
        time.sleep(0.01)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def tail(path, lines=20):
    return "".join(read(path).splitlines(True)[-lines:])


def children_of(pid):
    """Child pids of every thread of `pid` (/proc/PID/task/TID/children)."""
    found = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                found += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return sorted(found)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        text = f.read()
    fields = text[text.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def on_cpu_seconds(pid):
    """Time on a CPU of every thread of `pid` (/proc/PID/task/*/schedstat, ns): a finer clock than
    /proc/PID/stat's ticks, used as a cross-check."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e9


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ---------------------------------------------------------------- input and expectations

def fnv1a64(data):
    h = 14695981039346656037
    for byte in data:
        h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def owner(letter, workers):
    """The worker that owns a letter's key (src/runtime/key_router.cpp, docs/running.md)."""
    return (fnv1a64(letter.encode("utf-8")) % KEY_GROUPS) % workers


def make_input(n):
    sys.path.insert(0, os.path.join(REPO, "examples", "alphabet"))
    import make_data
    records = list(make_data.records(n))
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "alphabet_votes_%d.msg" % n)
    if not os.path.exists(path) or os.path.getsize(path) != 9 * n:
        pack = struct.Struct(">IcI").pack
        with open(path + ".tmp", "wb") as f:
            f.write(b"".join(pack(5, letter.encode("ascii"), votes) for letter, votes in records))
        os.replace(path + ".tmp", path)
    counts = collections.Counter(letter for letter, _ in records)
    totals = collections.Counter()
    for letter, votes in records:
        totals[letter] += votes
    return records, path, counts, totals


def expectations(records, workers, spread):
    """(hopped events, outputs per worker, events in per worker) for one case."""
    hopped = 0
    outputs = collections.Counter()
    events_in = collections.Counter()
    for i, (letter, _) in enumerate(records):
        arrives = i % workers if spread else 0
        home = owner(letter, workers)
        events_in[arrives] += 1
        outputs[home] += 1
        hopped += arrives != home
    return hopped, [outputs[w] for w in range(workers)], [events_in[w] for w in range(workers)]


# ---------------------------------------------------------------- one run

def check_outputs(path, n, counts, totals):
    seen = collections.Counter()
    last = {}
    lines = 0
    with open(path, "rb") as f:
        for line in f:
            lines += 1
            letter, _, total = line.partition(b" => ")
            letter = letter.decode("ascii")
            seen[letter] += 1
            value = int(total)
            if value > last.get(letter, 0):
                last[letter] = value
    problems = []
    if lines != n:
        problems.append("%d output lines, want %d" % (lines, n))
    for letter in sorted(set(counts) | set(seen)):
        if seen[letter] != counts[letter] or last.get(letter) != totals[letter]:
            problems.append("letter %r: %d lines ending at %s, want %d ending at %d"
                            % (letter, seen[letter], last.get(letter), counts[letter], totals[letter]))
    return problems


def one_run(opts, case, index, frame_file, n, counts, totals, expect):
    case_id, app, workers, spread = case
    tag = "%s-%d" % (case_id.replace("'", "p"), index)
    rx_log = os.path.join(OUT, "%s-receive.log" % tag)
    rx_out = os.path.join(OUT, "%s-receive.out" % tag)
    w_log = os.path.join(OUT, "%s-roo-run.log" % tag)
    with open(rx_log, "w") as rx_err, open(rx_out, "w") as rx_stdout:
        rx = spawn([opts.roo, "receive", "--listen", "127.0.0.1:0", "--expect", str(n), "--stats"],
                   stdout=rx_stdout, stderr=rx_err)
    out_port = int(wait_for(lambda: re.search(r"Listening on [^:]+:(\d+)", read(rx_log)), rx, 10, "roo receive",
                            rx_log).group(1))
    in_port = free_port_pair()
    argv = [opts.roo, "run"] + (["--workers", str(workers)] if workers > 1 else []) + [
        APPS[app], "--in", "Alphabet@127.0.0.1:%d" % in_port, "--out", "127.0.0.1:%d" % out_port] + \
        opts.worker_flags.split()
    with open(w_log, "w") as w_err:
        sup = spawn(argv, stdout=w_err, stderr=subprocess.STDOUT, cwd=OUT)
    wait_for(lambda: read(w_log).count(READY) >= workers, sup, 60, "roo run (%d workers)" % workers, w_log)
    if workers == 1:
        pids = [sup.pid]
    else:
        pids = wait_for(lambda: len(children_of(sup.pid)) == workers and children_of(sup.pid), sup, 10,
                        "finding the %d worker processes" % workers, w_log)
        processes.adopted.update(pids)
    load = loadavg()
    cpu0 = {pid: cpu_seconds(pid) for pid in pids}
    sched0 = {pid: on_cpu_seconds(pid) for pid in pids}
    sup_cpu0 = cpu_seconds(sup.pid)
    hosts = ",".join("127.0.0.1:%d" % (in_port + w) for w in range(workers if spread else 1))
    t0 = time.monotonic()
    send = subprocess.run([opts.roo, "send", "--host", hosts, "--file", frame_file, "--binary", "--msg-size", "9",
                           "--batch-size", "10000", "--interval", "0", "--no-write"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120, cwd=OUT)
    try:
        rx.wait(timeout=120)
    except subprocess.TimeoutExpired:
        raise BenchError("%s: the receiver did not get %d outputs within 120 s; roo run log ends:\n%s"
                         % (tag, n, tail(w_log)))
    t1 = time.monotonic()
    cpu1 = {pid: cpu_seconds(pid) for pid in pids}
    sched1 = {pid: on_cpu_seconds(pid) for pid in pids}
    sup_cpu1 = cpu_seconds(sup.pid) if workers > 1 else sup_cpu0
    sup.send_signal(signal.SIGTERM)
    try:
        code = sup.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise BenchError("%s: roo run did not exit within 60 s of SIGTERM; log ends:\n%s" % (tag, tail(w_log)))
    processes.adopted.difference_update(pids)

    hopped, want_out, want_in = expect
    problems = []
    if send.returncode != 0 or ("sent %d messages" % n) not in send.stderr:
        problems.append("roo send exited %d: %s" % (send.returncode, send.stderr.strip()))
    stats = re.search(r"received (\d+) messages \((\d+) bytes\) in ([\d.]+) s", read(rx_log))
    if rx.returncode != 0 or not stats or int(stats.group(1)) != n:
        problems.append("roo receive exited %s, stats %r" % (rx.returncode, stats and stats.group(0)))
    if code != 0:
        problems.append("roo run exited %d after SIGTERM" % code)
    log = read(w_log)
    stopped = {}
    for m in re.finditer(r"(?:\[(initializer|worker\d+)\] )?.*stopped: (\d+) events in, (\d+) outputs written, "
                         r"(\d+) events failed, (\d+) events not delivered", log):
        name = m.group(1) or "initializer"
        worker = 0 if name == "initializer" else int(name[len("worker"):])
        stopped[worker] = tuple(int(x) for x in m.groups()[1:])
    want = {w: (want_in[w], want_out[w], 0, 0) for w in range(workers)}
    if stopped != want:
        problems.append("workers' (events in, outputs, failed, not delivered) are %s, want %s" % (stopped, want))
    problems += check_outputs(rx_out, n, counts, totals)
    if problems:
        raise BenchError("%s: %s\nroo run log %s ends:\n%s" % (tag, "; ".join(problems[:8]), w_log, tail(w_log)))
    os.remove(rx_out)  # 12 MB per run; checked
    cpu = sum(cpu1[p] - cpu0[p] for p in pids)
    seconds = float(stats.group(3))
    return {
        "rate": n / seconds,
        "rate_send_to_last": n / (t1 - t0),
        "cpu_s_per_m": cpu / n * 1e6,
        "cpu_s_per_m_by_worker": [(cpu1[p] - cpu0[p]) / n * 1e6 for p in pids],
        "schedstat_cpu_s_per_m": sum(sched1[p] - sched0[p] for p in pids) / n * 1e6,
        "supervisor_cpu_s": sup_cpu1 - sup_cpu0,
        "loadavg_1min": load,
    }


# ---------------------------------------------------------------- report

def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "all": values}


def render(report):
    n = report["events"]
    lines = ["Inter-worker hop cost, alphabet, %s events per run, %d runs per case, all cases in this invocation."
             % ("{:,}".format(n), report["runs"]),
             "Measured %s on %d cores; roo %s (%s); 1-minute load average %s at the runs' starts."
             % (report["date"], os.cpu_count(), report["commit"], report["roo"],
                ", ".join("%.1f" % x for x in report["loadavg_runs"])),
             "",
             "| case | app (hop form) | workers | hopped events | events/s median | min | max | "
             "CPU s / M events, all workers: median | min | max |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for case_id, res in report["cases"].items():
        lines.append("| %s %s | %s | %d | %s (%.1f %%) | **%s** | %s | %s | **%.3f** | %.3f | %.3f |" % (
            case_id, CASE_LABELS[case_id], "alphabet.py (raw frame)" if res["app"] == "raw"
            else "alphabet_pickled.py (pickled)", res["workers"], "{:,}".format(res["hopped"]),
            res["hopped"] / n * 100, "{:,.0f}".format(res["rate"]["median"]), "{:,.0f}".format(res["rate"]["min"]),
            "{:,.0f}".format(res["rate"]["max"]), res["cpu_s_per_m"]["median"], res["cpu_s_per_m"]["min"],
            res["cpu_s_per_m"]["max"]))
    lines.append("")
    lines.append("Extra CPU per hopped event (sender + receiver side), from the medians, "
                 "(CPU of the 2-worker case - CPU of the 1-worker case) / hopped events:")
    for key, d in report["derived"].items():
        lines.append("- %s: **%.2f µs** (from the runs' min/max: %.2f to %.2f µs; from the threads' schedstat "
                     "clocks instead of /proc/PID/stat: %.2f µs)"
                     % (d["label"], d["us_per_hop"], d["us_per_hop_low"], d["us_per_hop_high"],
                        d["us_per_hop_schedstat"]))
    lines.append("")
    lines.append("CPU per worker (median run order initializer, worker1), s / M events: " + "; ".join(
        "%s %s" % (c, "/".join("%.3f" % x for x in r["cpu_by_worker_median_run"])) for c, r in report["cases"].items()
        if r["workers"] > 1))
    lines.append("Wall time %.0f s. Throughput is N / (first -> last output byte) at roo receive; the sender, "
                 "the receiver and all workers share the 2 cores, so CPU per event is the steadier figure."
                 % report["seconds"])
    return "\n".join(lines)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--events", type=int, default=1000000, help="events per run (default 1,000,000)")
    p.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    p.add_argument("--cases", default=",".join(c[0] for c in CASES), help="comma-separated subset of a,b,c,a',b'")
    p.add_argument("--roo", default=DEFAULT_ROO, help="the roo binary (default build/src/cli/roo)")
    p.add_argument("--worker-flags", default="",
                   help="more flags for every worker, e.g. '--tls-cert c.pem --tls-key k.pem --tls-ca ca.pem'")
    return p.parse_args()


def main():
    opts = parse_args()
    if not os.access(opts.roo, os.X_OK):
        raise BenchError("no roo binary at %s; build it with: cmake --build %s -j2 --target roo"
                         % (opts.roo, os.path.join(REPO, "build")))
    opts.roo = os.path.abspath(opts.roo)
    wanted = opts.cases.split(",")
    cases = [c for c in CASES if c[0] in wanted]
    if len(cases) != len(wanted):
        raise BenchError("unknown case in --cases %r (known: %s)" % (opts.cases, ", ".join(c[0] for c in CASES)))
    started = time.monotonic()
    n = opts.events
    records, frame_file, counts, totals = make_input(n)
    report = {"benchmark": "inter-worker hop", "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
              "commit": commit_of(), "roo": opts.roo, "events": n, "runs": opts.runs, "cpus": os.cpu_count(),
              "cases": {}, "loadavg_runs": []}
    results = {c[0]: [] for c in cases}
    # Interleave the cases (a b c a' b' a b c ...) so a change in machine load hits all of them alike.
    for index in range(opts.runs):
        for case in cases:
            if not opts.json:
                print("  case %s, run %d ..." % (case[0], index + 1), file=sys.stderr, flush=True)
            expect = expectations(records, case[2], case[3])
            results[case[0]].append(one_run(opts, case, index, frame_file, n, counts, totals, expect))
    for case in cases:
        case_id, app, workers, spread = case
        runs = results[case_id]
        hopped = expectations(records, workers, spread)[0]
        median_run = sorted(runs, key=lambda r: r["cpu_s_per_m"])[len(runs) // 2]
        report["cases"][case_id] = {
            "label": CASE_LABELS[case_id], "app": app, "app_path": os.path.relpath(APPS[app], REPO),
            "workers": workers, "input_spread": spread, "hopped": hopped,
            "rate": summary([r["rate"] for r in runs]),
            "rate_send_to_last": summary([r["rate_send_to_last"] for r in runs]),
            "cpu_s_per_m": summary([r["cpu_s_per_m"] for r in runs]),
            "schedstat_cpu_s_per_m": summary([r["schedstat_cpu_s_per_m"] for r in runs]),
            "cpu_by_worker_median_run": median_run["cpu_s_per_m_by_worker"],
            "supervisor_cpu_s": max(r["supervisor_cpu_s"] for r in runs),
            "loadavg_1min": [r["loadavg_1min"] for r in runs],
        }
        report["loadavg_runs"] += [r["loadavg_1min"] for r in runs]
    derived = {}
    for two, one, label in (("b", "a", "raw-frame hop (alphabet.py), b vs a"),
                            ("c", "a", "raw-frame hop (alphabet.py), c vs a"),
                            ("b'", "a'", "pickled hop (alphabet_pickled.py), b' vs a'")):
        if two in report["cases"] and one in report["cases"]:
            c2, c1 = report["cases"][two], report["cases"][one]
            hops_per_m = c2["hopped"] / n * 1e6

            def us(cpu2, cpu1):
                # CPU s per M events -> µs per hopped event
                return (cpu2 - cpu1) * 1e6 / hops_per_m

            derived[two + "-" + one] = {
                "label": label, "hopped": c2["hopped"],
                "us_per_hop": us(c2["cpu_s_per_m"]["median"], c1["cpu_s_per_m"]["median"]),
                "us_per_hop_low": us(c2["cpu_s_per_m"]["min"], c1["cpu_s_per_m"]["max"]),
                "us_per_hop_high": us(c2["cpu_s_per_m"]["max"], c1["cpu_s_per_m"]["min"]),
                "us_per_hop_schedstat": us(c2["schedstat_cpu_s_per_m"]["median"],
                                           c1["schedstat_cpu_s_per_m"]["median"]),
            }
    report["derived"] = derived
    report["seconds"] = time.monotonic() - started
    if opts.json:
        print(json.dumps(report, indent=1, sort_keys=True))
    else:
        print(render(report))


if __name__ == "__main__":
    processes.run_main(main, "bench/hop/run.py")
