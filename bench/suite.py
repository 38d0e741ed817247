#!/usr/bin/python3
"""Roo against the limit and the peers, in one run: what `bench/run` executes.

    bench/run [--quick] [--runs N] [--workloads a,b] [--no-docs] ...   (see bench/README.md)

For each workload in bench/workloads/ (passthrough, alphabet, word_count, market_spread),
all in this one invocation, on this machine:

1. Inputs generated once (deterministic) into bench/out/.
2. Ceiling: the workload's user functions in a tight Python loop over the pre-built
   payloads (bench/harness/plan.py), rate = events / CPU time; under /usr/bin/python3 and
   under an interpreter embedded the way roo links libpython (bench/tools/embed_python.c).
3. Throughput, --runs rounds; each round runs every system once (so machine noise is
   spread over all of them):
   - Roo, 1 worker: `roo run bench/workloads/W/app.py`;
   - Roo, 2 workers: `roo run --workers 2 ...`, each input file spread over both workers'
     --in ports (port, port+1) by `roo send --host`;
   - the careful asyncio server (bench/harness/asyncio_server.py), same user functions;
   - Bytewax (bench/harness/bytewax_flow.py in bench/out/venv-bytewax), same user
     functions, reading the same files itself;
   - alphabet and word_count only: Roo, 1 worker with checkpoints every 1 s (roo1ckpt:
     --checkpoint-dir, a fresh folder per run) and, paired with it, Roo 1 worker without, both on
     an input --ckpt-events-scale times longer, so that every run holds several checkpoints;
     --ckpt-runs rounds of that pair (default 9), back to back in alternating order, and its
     ratio the median of the rounds' ratios.
   Inputs are replayed by `roo send` (one per source, concurrently, full speed) and the
   outputs collected by `roo receive --expect M`. events/s = N / (the senders' first write
   (`roo send --report-start`) -> the receiver has all M outputs). Every run is checked: the server's own count line and
   the workload's check of the output bytes (per-key totals, counts, exact lines); a run
   that loses or duplicates anything is reported as invalid, not as a number.
4. Latency (alphabet, timed app, bench/alphabet_one_worker.py's paced sender and
   stamping receiver) at 25/50/75 % of each server's own measured alphabet maximum,
   3 interleaved runs per row (median of each percentile, min-max shown); with roo1ckpt, a
   row with checkpoints on at 50 %, offered Roo 1 worker's 50 % rate.
5. Memory: idle worker RSS; RSS sampled while a slow receiver (about 1 MB/s) takes the
   output of a sender pushing as fast as it can (backpressure).
6. bench/callgrind/run.py --json, bench/hop/run.py --json, bench/checkpoint/run.py --json,
   bench/kafka/run.py --json --no-docs and bench/windows/run.py --json --no-docs, when present.
Then it prints the table, writes bench/out/suite.{json,md}, docs/benchmarks.png and the
results block of docs/benchmarks.md.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "harness"))
import alphabet_one_worker as A  # noqa: E402  (process handling, /proc readers, latency harness)
import plan  # noqa: E402
from processes import ensure_venv  # noqa: E402

DOCS = os.path.join(REPO, "docs", "benchmarks.md")
PNG = os.path.join(REPO, "docs", "benchmarks.png")
DOCS_BEGIN = "<!-- bench/run results: begin (written by bench/run; edit the text around it, not inside) -->"
DOCS_END = "<!-- bench/run results: end -->"
VENV = os.path.join(OUT, "venv-bytewax")
VENV_PY = os.path.join(VENV, "bin", "python")
ASYNCIO = os.path.join(HERE, "harness", "asyncio_server.py")
BYTEWAX = os.path.join(HERE, "harness", "bytewax_flow.py")
TIMED_APP = os.path.join(HERE, "apps", "alphabet_timed.py")
ASYNCIO_TIMED = os.path.join(HERE, "baselines", "asyncio_alphabet.py")
READY = A.READY
SYSTEMS = ("roo1", "roo2", "asyncio", "bytewax", "roo1ckpt", "roo1nometrics")
# roo1nometrics: Roo, 1 worker with --no-metrics: the metrics' cost is roo1 / roo1nometrics (issue 12: >= 0.97).
METRICS_WORKLOADS = ("alphabet", "passthrough")
# roo1ckpt runs only these workloads, on a longer input (--ckpt-events-scale) so that every run holds several
# checkpoints, paired in each round with roo1 on that same input ("roo1ckpt_base"): the ratio compares like with like.
CKPT_WORKLOADS = ("alphabet", "word_count")
CKPT_PAIR = ("roo1ckpt_base", "roo1ckpt")
NAMES = {
    "ceiling": "ceiling (user functions in a Python loop, /usr/bin/python3)",
    "ceiling_roo": "ceiling, interpreter linked like roo",
    "roo1": "Roo, 1 worker",
    "roo2": "Roo, 2 workers",
    "asyncio": "careful asyncio server",
    "bytewax": "Bytewax, 1 worker",
    "roo1ckpt_base": "Roo, 1 worker (the checkpoint rows' input, no checkpoints)",
    "roo1ckpt": "Roo, 1 worker, checkpoints every 1 s",
    "roo1nometrics": "Roo, 1 worker, metrics off (--no-metrics)",
}
say = A.say if hasattr(A, "say") else (lambda text: print(text, file=sys.stderr, flush=True))


class BenchError(A.BenchError):
    pass


# ---------------------------------------------------------------- setup

def ensure_bytewax(results):
    """bench/out/venv-bytewax with bytewax; returns its version, or records why not."""
    try:
        return ensure_venv(VENV, "bytewax", "bytewax")[1]
    except A.BenchError as error:
        results["bytewax_error"] = str(error)
        return None


def ensure_matplotlib():
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        pass
    say("setup: apt-get install python3-matplotlib")
    subprocess.run(["apt-get", "install", "-y", "-qq", "python3-matplotlib"], capture_output=True)
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


# ---------------------------------------------------------------- ceiling

def ceiling_role(opts):
    """--role ceiling: the workload's functions in a loop, --runs times; prints the rates as JSON."""
    logic, data = plan.load(opts.workload)
    items = data.payloads(opts.events)
    rates = []
    for _ in range(opts.runs):
        produced = 0
        if len(logic.SOURCES) == 1:
            run = plan.shared_runners(logic)[0]
            payloads = [p for _, p in items]
            start = time.thread_time()
            for at in range(0, len(payloads), 8192):
                outs = []
                run(payloads[at:at + 8192], outs)
                b"".join(outs)  # outputs joined as a sink would take them
                produced += len(outs)
        else:
            # Sources interleave event by event: one keyed loop over (source, payload).
            decoders = [decode for _, decode in logic.SOURCES]
            key, state_cls, compute, encode = logic.KEY, logic.STATE, logic.COMPUTE, logic.ENCODE
            states = {}
            get = states.get
            outs = []
            append = outs.append
            start = time.thread_time()
            for source, payload in items:
                event = decoders[source](payload)
                k = key(event)
                state = get(k)
                if state is None:
                    state = states[k] = state_cls()
                result = compute(event, state)
                if result is not None:
                    append(encode(result))
            b"".join(outs)
            produced = len(outs)
        rates.append(len(items) / (time.thread_time() - start))
        if opts.expect and produced != opts.expect:
            raise BenchError("ceiling produced %d outputs, want %d" % (produced, opts.expect))
    print(json.dumps(rates), flush=True)


def ceiling(opts, interpreter, workload, events, outputs):
    done = subprocess.run(interpreter + [os.path.abspath(__file__), "--role", "ceiling", "--workload", workload,
                                         "--events", str(events), "--runs", str(opts.runs), "--expect",
                                         str(outputs if workload != "market_spread" else 0)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise BenchError("ceiling of %s under %s failed (%d):\n%s" % (workload, interpreter[0], done.returncode,
                                                                      done.stderr[-2000:]))
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- throughput

def free_port_block(count, step):
    """A port p with p, p+step, ... and each +1 free (2-worker clusters listen on port+1)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        ports = [base + i * step + j for i in range(count) for j in range(2)]
        if max(ports) > 65000:
            continue
        ok = True
        for p in ports:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return [base + i * step for i in range(count)]
    raise BenchError("no block of free ports found")


def child_pids(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def checkpoint_folder(tag):
    """A fresh, empty --checkpoint-dir under bench/out/checkpoint-runs/ (removed after its run)."""
    parent = os.path.join(OUT, "checkpoint-runs")
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix="%s-" % tag, dir=parent)


def checkpoint_flags(folder):
    return ["--checkpoint-dir", folder, "--checkpoint-interval", OPTS.checkpoint_interval]


def server_argv(system, workload, in_spec, out_port, checkpoint_dir=None):
    app = os.path.join(plan.workload_dir(workload), "app.py")
    out = "127.0.0.1:%d" % out_port
    if system in ("roo1", "roo1ckpt_base"):
        return [OPTS.roo, "run", app, "--in", in_spec, "--out", out]
    if system == "roo1ckpt":
        return [OPTS.roo, "run"] + checkpoint_flags(checkpoint_dir) + [app, "--in", in_spec, "--out", out]
    if system == "roo2":
        return [OPTS.roo, "run", "--workers", "2", app, "--in", in_spec, "--out", out]
    if system == "roo1nometrics":
        return [OPTS.roo, "run", "--no-metrics", app, "--in", in_spec, "--out", out]
    if system == "asyncio":
        return ["/usr/bin/python3", ASYNCIO, "--workload", workload, "--in", in_spec, "--out", out]
    raise ValueError(system)


def tput_run(system, workload, info, data, index):
    """One measured run of `system` on `workload`; returns a dict (with "invalid" when the result is wrong)."""
    tag = "%s-%s-%d" % (workload, system, index)
    if system == "bytewax":
        return bytewax_run(workload, info, data, tag)
    n, m = info["events"], info["outputs"]
    warmup = info.get("warmup", [])
    m_all = m + sum(x[3] for x in warmup)
    n_all = n + sum(x[4] for x in warmup)
    rx_log = os.path.join(OUT, "run-%s-receive.log" % tag)
    w_log = os.path.join(OUT, "run-%s-server.log" % tag)
    out_path = os.path.join(OUT, "run-%s.out" % tag)
    with open(rx_log, "w") as rx_err, open(out_path, "wb") as rx_out:
        rx = A.spawn([OPTS.roo, "receive", "--listen", "127.0.0.1:0", "--expect", str(m_all), "--stats"],
                     stdout=rx_out, stderr=rx_err)
    out_port = int(A.wait_for_text(rx_log, r"Listening on [^:]+:(\d+)", rx, 10, "roo receive").group(1))
    ports = free_port_block(len(info["files"]), 10)
    in_spec = ",".join("%s@127.0.0.1:%d" % (name, p) for (name, _, _), p in zip(info["files"], ports))
    workers = 2 if system == "roo2" else 1
    folder = checkpoint_folder(tag) if system == "roo1ckpt" else None
    with open(w_log, "w") as w_err:
        server = A.spawn(server_argv(system, workload, in_spec, out_port, folder), stdout=subprocess.DEVNULL,
                         stderr=w_err, cwd=REPO)
    A.wait_for_text(w_log, "(?s)" + ".*".join([re.escape(READY)] * workers), server, 60, tag)
    pids = [server.pid] + (child_pids(server.pid) if system == "roo2" else [])
    for source, path, flags, lines, _ in warmup:
        # Sent first and waited for (its last messages give `lines` outputs): see the workload's data.make.
        hosts = ",".join("127.0.0.1:%d" % (ports[source] + i) for i in range(workers))
        subprocess.run([OPTS.roo, "send", "--host", hosts, "--file", path] + flags +
                       ["--batch-size", "10000", "--interval", "0", "--no-write"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=30, cwd=OUT)
        deadline = time.monotonic() + 30
        while True:
            with open(out_path, "rb") as f:
                if f.read().count(b"\n") >= lines:
                    break
            if time.monotonic() > deadline:
                raise BenchError("%s: the warm-up's %d output lines did not arrive within 30 s" % (tag, lines))
            time.sleep(0.005)
    load = A.loadavg()
    cpu0 = sum(A.cpu_seconds(p) for p in pids)
    t0 = time.monotonic()
    senders = []
    for (name, path, flags), port in zip(info["files"], ports):
        hosts = ",".join("127.0.0.1:%d" % (port + i) for i in range(workers))
        senders.append(A.spawn([OPTS.roo, "send", "--host", hosts, "--file", path] + flags +
                               ["--batch-size", "10000", "--interval", "0", "--no-write", "--report-start"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=OUT))
    problems = []
    try:
        rx.wait(timeout=OPTS.run_timeout)
    except subprocess.TimeoutExpired:
        problems.append("the receiver did not get %d outputs within %d s" % (m_all, OPTS.run_timeout))
    t1 = time.monotonic()
    cpu1 = sum(A.cpu_seconds(p) for p in pids if os.path.exists("/proc/%d" % p))
    hwm = sum(A.vm_hwm_kib(p) for p in (pids[1:] if system == "roo2" else pids)) / 1024
    t_first_write = float("inf")
    for sender in senders:
        try:
            sender.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sender.kill()
        err = sender.stderr.read()
        if sender.returncode != 0 or not re.search(r"sent \d+ messages", err):
            problems.append("roo send exited %s: %s" % (sender.returncode, err.strip()[-300:]))
        started = re.search(r"started at ([\d.]+)", err)
        if started:
            # The clock starts at the first write, not at the sender's launch: loading a 42 MB file takes
            # ~0.1 s, which would otherwise count against whichever server is fastest.
            t_first_write = min(t_first_write, float(started.group(1)))
    server.send_signal(signal.SIGTERM)
    try:
        code = server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        code = "killed after 30 s"
    if t_first_write == float("inf"):
        problems.append("roo send did not report its start (--report-start)")
    else:
        t0 = t_first_write
    if rx.poll() is None:
        rx.send_signal(signal.SIGTERM)
        rx.wait(timeout=10)
    if code != 0:
        problems.append("the server exited %s after SIGTERM" % code)
    with open(w_log, errors="replace") as f:
        w_text = f.read()
    stops = re.findall(r"stopped: (\d+) events in, (\d+) outputs written", w_text)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        checkpoints = [float(x) for x in re.findall(r"checkpoint \d+ complete: .*\(executor paused ([\d.]+) ms\)",
                                                    w_text)]
        failed = re.findall(r"checkpoint \d+ failed: .*", w_text)
        if failed:
            problems.append("%d checkpoints failed: %s" % (len(failed), failed[0][:200]))
        if not checkpoints:
            problems.append("no checkpoint completed")
    got_in, got_out = sum(int(a) for a, _ in stops), sum(int(b) for _, b in stops)
    if len(stops) != workers or got_in != n_all or got_out != m_all:
        problems.append("count lines %r: %d in, %d out; want %d in, %d out" % (stops, got_in, got_out, n_all, m_all))
    stats = re.search(r"received (\d+) messages \((\d+) bytes\) in ([\d.]+) s", A.tail(rx_log))
    with open(out_path, "rb") as f:
        wrong = data.check(f.read(), info["n_param"])
    if wrong:
        problems.append("output check: " + wrong)
    if not problems:
        os.remove(out_path)  # kept for a closer look when the run is invalid
    result = {
        "rate": n / (t1 - t0),
        "outputs_per_s": m / (t1 - t0),
        "seconds": t1 - t0,
        "first_to_last_rate": (n / float(stats.group(3))) if stats and float(stats.group(3)) > 0 else None,
        "cpu_s_per_m": (cpu1 - cpu0) / n * 1e6,
        "rss_peak_mib": hwm,
        "loadavg_1min": load,
        "worker_counts": stops,
    }
    if folder:
        # The last one is the stop's (SIGTERM ends with a checkpoint); the others fell inside the measured run.
        result["checkpoints"] = len(checkpoints)
        result["pause_ms_max"] = max(checkpoints) if checkpoints else None
    if problems:
        result["invalid"] = "; ".join(problems)
        say("  %s INVALID: %s (logs: %s, %s)" % (tag, result["invalid"], w_log, rx_log))
    return result


def bytewax_run(workload, info, data, tag):
    n = info["events"]
    out_path = os.path.join(OUT, "run-%s.out" % tag)
    inputs = []
    for i, (_, path, flags) in enumerate(info["files"]):
        paths = [x[1] for x in info.get("warmup", []) if x[0] == i] + [path]  # warm-up file(s) first
        inputs += ["--input", "%s:%s" % (",".join(paths), "frames" if "--binary" in flags else "lines")]
    load = A.loadavg()
    done = subprocess.run([VENV_PY, BYTEWAX, "--workload", workload, "--out", out_path] + inputs,
                          capture_output=True, text=True, timeout=OPTS.run_timeout * 4)
    if done.returncode != 0:
        return {"invalid": "bytewax exited %d: %s" % (done.returncode, done.stderr.strip()[-500:]),
                "loadavg_1min": load}
    got = json.loads(done.stdout.strip().splitlines()[-1])
    with open(out_path, "rb") as f:
        wrong = data.check(f.read(), info["n_param"])
    result = {"rate": n / got["seconds"], "outputs_per_s": info["outputs"] / got["seconds"],
              "seconds": got["seconds"], "first_to_last_rate": None,
              "cpu_s_per_m": got["cpu_seconds"] / n * 1e6, "rss_peak_mib": got["max_rss_mib"],
              "loadavg_1min": load, "bytewax_version": got["bytewax_version"]}
    if wrong:
        result["invalid"] = "output check: " + wrong
    else:
        os.remove(out_path)
    return result


def summarise(runs):
    valid = [r for r in runs if "invalid" not in r]
    if not valid:
        return {"runs": runs, "valid": 0, "invalid": [r["invalid"] for r in runs]}
    pick = lambda k: [r[k] for r in valid if r.get(k) is not None]
    summary = {"runs": runs, "valid": len(valid), "invalid": [r["invalid"] for r in runs if "invalid" in r]}
    for k in ("rate", "outputs_per_s", "cpu_s_per_m", "rss_peak_mib", "loadavg_1min", "first_to_last_rate",
              "checkpoints", "pause_ms_max"):
        if pick(k):
            summary[k] = A.summarise(pick(k))
    return summary


# ---------------------------------------------------------------- latency

class LatencyOpts:
    def __init__(self, seconds, warmup, pace_ms):
        self.latency_seconds = seconds
        self.warmup = warmup
        self.pace_ms = pace_ms


def timed_frames(records):
    """bench/out/alphabet_timed_N.msg: the latency app's 17-byte frames (send stamp 0), for its maximum."""
    path = os.path.join(OUT, "alphabet_timed_%d.msg" % len(records))
    if not os.path.exists(path) or os.path.getsize(path) != 17 * len(records):
        pack = struct.Struct(">IcIQ").pack
        with open(path + ".tmp", "wb") as f:
            f.write(b"".join(pack(13, letter, votes, 0) for letter, votes in records))
        os.replace(path + ".tmp", path)
    return path


def timed_max(system, argv_for, path, n):
    """events/s of the latency app at full speed: median of OPTS.latency_max_runs runs, each checked."""
    rates = []
    for index in range(OPTS.latency_max_runs):
        tag = "timedmax-%s-%d" % (system, index)
        rx_log, w_log = os.path.join(OUT, tag + "-receive.log"), os.path.join(OUT, tag + "-server.log")
        with open(rx_log, "w") as rx_err:
            rx = A.spawn([OPTS.roo, "receive", "--listen", "127.0.0.1:0", "--no-write", "--expect", str(n), "--stats"],
                         stdout=subprocess.DEVNULL, stderr=rx_err)
        out_port = int(A.wait_for_text(rx_log, r"Listening on [^:]+:(\d+)", rx, 10, "roo receive").group(1))
        in_port = free_port_block(1, 10)[0]
        with open(w_log, "w") as w_err:
            server = A.spawn(argv_for(in_port, out_port), stdout=subprocess.DEVNULL, stderr=w_err, cwd=REPO)
        A.wait_for_text(w_log, re.escape(READY), server, 60, tag)
        sent = subprocess.run([OPTS.roo, "send", "--host", "127.0.0.1:%d" % in_port, "--file", path, "--binary",
                               "--msg-size", "17", "--batch-size", "10000", "--interval", "0", "--no-write",
                               "--report-start"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120, cwd=OUT)
        rx.wait(timeout=OPTS.run_timeout)
        t1 = time.monotonic()
        started = re.search(r"started at ([\d.]+)", sent.stderr)
        if sent.returncode != 0 or not started:
            raise BenchError("%s: roo send exited %s: %s" % (tag, sent.returncode, sent.stderr.strip()[-300:]))
        t0 = float(started.group(1))
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
        stopped = re.search(r"stopped: (\d+) events in, (\d+) outputs written", A.tail(w_log))
        if code != 0 or not stopped or int(stopped.group(1)) != n or int(stopped.group(2)) != n:
            raise BenchError("%s: exit %s, count line %r, want %d" % (tag, code, stopped and stopped.group(0), n))
        rates.append(n / (t1 - t0))
    return A.summarise(rates)


def latency(results):
    records = A.load_make_data().records(1_000_000)
    records = [(letter.encode("ascii"), votes) for letter, votes in records]
    path = timed_frames(records)
    lopts = LatencyOpts(OPTS.latency_seconds, 0.5, 1.0)
    servers = {
        "roo1": lambda i, o: [OPTS.roo, "run", TIMED_APP, "--in", "Alphabet@127.0.0.1:%d" % i,
                              "--out", "127.0.0.1:%d" % o],
        "asyncio": lambda i, o: ["/usr/bin/python3", ASYNCIO_TIMED, "--app", TIMED_APP,
                                 "--in", "127.0.0.1:%d" % i, "--out", "127.0.0.1:%d" % o],
    }
    if "roo1nometrics" in OPTS.systems.split(","):
        servers["roo1nometrics"] = lambda i, o: [OPTS.roo, "run", "--no-metrics", TIMED_APP,
                                                 "--in", "Alphabet@127.0.0.1:%d" % i, "--out", "127.0.0.1:%d" % o]
    maxima = results["latency_max"] = {}
    for system, argv_for in servers.items():
        maxima[system] = timed_max(system, argv_for, path, len(records))
        say("latency app at full speed, %s: median %s events/s" % (system, fmt(maxima[system]["median"])))
    # Roo 1 worker with checkpoints on: at half load only, offered Roo 1 worker's own rate (no checkpoints), so it
    # faces the same events/s as the roo1 row beside it.
    folders = []

    def with_checkpoints(in_port, out_port):
        folders.append(checkpoint_folder("latency"))
        return [OPTS.roo, "run"] + checkpoint_flags(folders[-1]) + [
            TIMED_APP, "--in", "Alphabet@127.0.0.1:%d" % in_port, "--out", "127.0.0.1:%d" % out_port]

    rows = []
    for fraction in OPTS.latency_loads:
        current = dict(servers)
        if fraction == 0.5 and "roo1ckpt" in OPTS.systems.split(","):
            current = {"roo1": servers["roo1"], "roo1ckpt": with_checkpoints, **servers}  # next to roo1's row
        runs = {system: [] for system in current}
        for repeat in range(OPTS.latency_repeats):
            for system, argv_for in current.items():  # interleaved, like the throughput rounds
                own = "roo1" if system in ("roo1ckpt", "roo1nometrics") else system
                rate = int(fraction * maxima[own]["median"])
                say("latency, %s: %s events/s offered (%.0f %% of %s maximum with the timed app) for %.0f s, "
                    "run %d of %d" % (system, A.fmt_rate(rate), 100 * fraction,
                                      "Roo 1 worker's" if own != system else "its own", lopts.latency_seconds,
                                      repeat + 1, OPTS.latency_repeats))
                try:
                    lat = A.latency_run(lopts, records, rate, system, argv_for)
                    if system == "roo1ckpt":
                        lat["checkpoints"] = len(re.findall(r"checkpoint \d+ complete", A.tail(
                            os.path.join(OUT, "latency-roo1ckpt-worker.log"), 100000)))
                        if not lat["checkpoints"]:
                            raise A.BenchError("no checkpoint completed during the run")
                except A.BenchError as error:
                    A.cleanup_children()
                    runs[system].append({"offered_rate": rate, "invalid": str(error)})
                    say("  INVALID: %s" % error)
                    continue
                finally:
                    for folder in folders:
                        shutil.rmtree(folder, ignore_errors=True)
                    folders.clear()
                say("  p50 %.0f p95 %.0f p99 %.0f p99.9 %.0f p99.99 %.0f us, load %.1f%s" % (
                    lat["p50_us"], lat["p95_us"], lat["p99_us"], lat["p999_us"], lat["p9999_us"],
                    lat["loadavg_1min"], ", %d checkpoints" % lat["checkpoints"] if "checkpoints" in lat else ""))
                runs[system].append(lat)
        for system in current:
            rows.append(latency_row(system, fraction, runs[system]))
    return rows


LATENCY_FIELDS = ("p50_us", "p95_us", "p99_us", "p999_us", "p9999_us", "max_us", "cpu_s_per_m", "main_runqueue_share",
                  "loadavg_1min")


def latency_row(system, fraction, runs):
    """One table row from a load's repeated runs: the median of each figure over the valid runs, with every run kept
    (a single 5 s run's p99.99 rests on ~250 events: one stall of the shared cores moves it)."""
    valid = [r for r in runs if "invalid" not in r]
    row = {"system": system, "fraction": fraction, "offered_rate": runs[0]["offered_rate"], "runs": runs,
           "valid_runs": len(valid)}
    if not valid:
        row["invalid"] = runs[0]["invalid"]
        return row
    for key in LATENCY_FIELDS:
        values = [r[key] for r in valid]
        row[key] = statistics.median(values)
        row[key + "_min"], row[key + "_max"] = min(values), max(values)
    return row


# ---------------------------------------------------------------- memory

def slow_receiver_role(opts):
    """--role slow-receiver: accept one connection and read it at about --rate bytes/s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print("listening %d" % listener.getsockname()[1], flush=True)
    conn, _ = listener.accept()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    chunk = 16 * 1024
    start = time.monotonic()
    got = 0
    while True:
        data = conn.recv(chunk)
        if not data:
            return
        got += len(data)
        ahead = got / opts.rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)


def vm_rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory(results, alphabet_info):
    mem = {}
    # Idle: started, ready, no traffic, after 2 s.
    for system in ("roo1", "roo2", "asyncio"):
        w_log = os.path.join(OUT, "mem-idle-%s.log" % system)
        sink = socket.socket()
        sink.bind(("127.0.0.1", 0))
        sink.listen(8)
        port = free_port_block(1, 10)[0]
        with open(w_log, "w") as w_err:
            server = A.spawn(server_argv(system, "alphabet", "Alphabet@127.0.0.1:%d" % port, sink.getsockname()[1]),
                             stdout=subprocess.DEVNULL, stderr=w_err, cwd=REPO)
        workers = 2 if system == "roo2" else 1
        A.wait_for_text(w_log, "(?s)" + ".*".join([re.escape(READY)] * workers), server, 60, "idle " + system)
        time.sleep(2.0)
        pids = child_pids(server.pid) if system == "roo2" else [server.pid]
        mem["idle_" + system] = [vm_rss_mib(p) for p in pids]
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        sink.close()
        say("memory: idle %s RSS %s MiB" % (system, ", ".join("%.1f" % x for x in mem["idle_" + system])))

    # Slow sink: the receiver reads ~1 MB/s, the sender pushes as fast as it can.
    rx_log = os.path.join(OUT, "mem-slow-receive.log")
    w_log = os.path.join(OUT, "mem-slow-worker.log")
    with open(rx_log, "w") as rx_err:
        rx = A.spawn(["/usr/bin/python3", os.path.abspath(__file__), "--role", "slow-receiver", "--rate",
                      str(OPTS.slow_rate)], stdout=subprocess.PIPE, stderr=rx_err, bufsize=0)
    first = A.LineReader(rx, "the slow receiver", rx_log).read_line(10).split()
    port = free_port_block(1, 10)[0]
    with open(w_log, "w") as w_err:
        worker = A.spawn(server_argv("roo1", "alphabet", "Alphabet@127.0.0.1:%d" % port, int(first[1])),
                         stdout=subprocess.DEVNULL, stderr=w_err, cwd=REPO)
    A.wait_for_text(w_log, re.escape(READY), worker, 60, "slow-sink worker")
    path = alphabet_info["files"][0][1]
    sender = A.spawn([OPTS.roo, "send", "--host", "127.0.0.1:%d" % port, "--file", path, "--binary", "--msg-size",
                      "9", "--repeat", "--messages", "0", "--batch-size", "10000", "--interval", "0", "--no-write"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=OUT)
    samples = []
    start = time.monotonic()
    cpu0 = A.cpu_seconds(worker.pid)
    while time.monotonic() - start < OPTS.slow_seconds:
        samples.append((round(time.monotonic() - start, 2), vm_rss_mib(worker.pid)))
        time.sleep(0.2)
    cpu1 = A.cpu_seconds(worker.pid)
    sender.send_signal(signal.SIGTERM)
    try:
        sender.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sender.kill()
    worker.kill()  # a drain through a 1 MB/s sink would take minutes; this test only watches memory
    worker.wait()
    rx.kill()
    rx.wait()
    values = [v for _, v in samples]
    half = len(values) // 2
    growth_second_half = max(values[half:]) - max(values[:half])
    mem["slow_sink"] = {
        "samples": samples, "start_mib": values[0], "max_mib": max(values), "last_mib": values[-1],
        "growth_second_half_mib": growth_second_half, "flat": growth_second_half <= 2.0,
        "rate_bytes_per_s": OPTS.slow_rate, "seconds": OPTS.slow_seconds,
        "worker_cpu_share": (cpu1 - cpu0) / OPTS.slow_seconds,
    }
    say("memory: slow sink: RSS %.1f MiB at start, max %.1f, last %.1f; second half grew %.1f MiB" % (
        values[0], max(values), values[-1], growth_second_half))
    return mem


# ---------------------------------------------------------------- callgrind / hop

def external(script, quick_args, args=(), timeout=900):
    """The JSON object `bench/SCRIPT --json` prints (another helper's measurement), or why there is none."""
    path = os.path.join(HERE, script)
    if not os.path.exists(path):
        return {"available": False, "why": "%s is not there" % os.path.relpath(path, REPO)}
    argv = ["/usr/bin/python3", path, "--json", "--roo", OPTS.roo] + list(args) + (quick_args if OPTS.quick else [])
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"available": False, "why": "%s did not finish within %d s" % (script, timeout)}
    try:
        if done.returncode != 0:
            raise ValueError("exit code %d" % done.returncode)
        result = json.loads(done.stdout[done.stdout.index("{"):])
    except ValueError as error:
        return {"available": False, "why": "`%s` gave no JSON object (%s): %s" % (
            " ".join(os.path.relpath(a, REPO) if a.startswith("/") else a for a in argv[1:]), error,
            (done.stderr or done.stdout).strip()[-400:])}
    try:  # the script's own table, rendered from the same JSON
        import importlib.util
        spec = importlib.util.spec_from_file_location("bench_" + script.split("/")[0], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        result["rendered"] = module.render(result)
    except Exception as error:  # noqa: BLE001  (their renderer is optional here)
        result["rendered"] = None
        result["render_error"] = repr(error)
    result["available"] = True
    return result


# ---------------------------------------------------------------- report

def fmt(x):
    return "-" if x is None else "{:,.0f}".format(x)


def med(results, workload, system, key="rate"):
    entry = results["workloads"].get(workload, {}).get(system, {})
    value = entry.get(key)
    return value["median"] if value else None


def paired_ratios(results, workload):
    """roo1ckpt / roo1ckpt_base of each round in which both runs are valid (the two ran back to back)."""
    wr = results["workloads"].get(workload, {})
    on, off = wr.get("roo1ckpt", {}).get("runs", []), wr.get("roo1ckpt_base", {}).get("runs", [])
    return [a["rate"] / b["rate"] for a, b in zip(on, off) if "invalid" not in a and "invalid" not in b]


def checkpoint_ratio(results, workload):
    """roo1ckpt / roo1 on the same input: the median of the rounds' paired ratios, or None. Paired, because the
    shared cores drift by more than the checkpoints cost (word_count's single runs spread 237k-320k events/s in one
    invocation): the two runs of a round share that round's machine."""
    ratios = paired_ratios(results, workload)
    return statistics.median(ratios) if ratios else None


def checkpoint_ratio_of_medians(results, workload):
    a, b = med(results, workload, "roo1ckpt"), med(results, workload, "roo1ckpt_base")
    return a / b if a and b else None


def targets(results):
    """[(target, measured, met: True/False/None)]."""
    rows = []
    r1 = lambda w: med(results, w, "roo1")

    def ratio(a, b):
        return a / b if a and b else None

    def row(text, value, limit, shown, higher=True):
        met = None if value is None else (value >= limit if higher else value <= limit)
        rows.append((text, shown if value is not None else "not measured", met))

    v = ratio(r1("alphabet"), med(results, "alphabet", "ceiling"))
    row("alphabet: Roo 1 worker ≥ 0.7 × the ceiling (/usr/bin/python3)", v, 0.7, "%.2f ×" % (v or 0))
    v2 = ratio(r1("alphabet"), med(results, "alphabet", "ceiling_roo"))
    rows.append(("(same, against the ceiling in roo's own interpreter link)", "%.2f ×" % v2 if v2 else "-", None))
    v = ratio(r1("alphabet"), med(results, "alphabet", "asyncio"))
    row("alphabet: Roo 1 worker ≥ 1.3 × the asyncio server", v, 1.3, "%.2f ×" % (v or 0))
    v = ratio(r1("passthrough"), med(results, "passthrough", "asyncio"))
    row("passthrough: Roo 1 worker ≥ 2 × the asyncio server", v, 2.0, "%.2f ×" % (v or 0))
    for w in plan.WORKLOADS:
        v = ratio(r1(w), med(results, w, "bytewax"))
        row("%s: Roo 1 worker ≥ 3 × Bytewax" % w, v, 3.0, "%.2f ×" % (v or 0))
    row("alphabet: Roo 1 worker ≥ 900,000 events/s", r1("alphabet"), 900_000, fmt(r1("alphabet")))
    lat = [x for x in results.get("latency", []) if x["system"] == "roo1" and x["fraction"] == 0.5
           and "invalid" not in x]
    if lat:
        row("latency at 50 % load: p99 ≤ 1 ms", lat[0]["p99_us"], 1000, "%.0f µs" % lat[0]["p99_us"], higher=False)
        row("latency at 50 % load: p99.99 ≤ 5 ms", lat[0]["p9999_us"], 5000, "%.0f µs" % lat[0]["p9999_us"],
            higher=False)
    else:
        row("latency at 50 % load: p99 ≤ 1 ms", None, 0, "")
    mem = results.get("memory", {})
    if mem.get("idle_roo1"):
        x = mem["idle_roo1"][0]
        row("idle worker RSS ≤ 50 MB", x * 1.048576, 50, "%.1f MiB (%.1f MB)" % (x, x * 1.048576), higher=False)
    if mem.get("slow_sink"):
        s = mem["slow_sink"]
        rows.append(("slow sink: worker RSS stays flat", "%.1f → max %.1f MiB, +%.1f MiB in the second half" % (
            s["start_mib"], s["max_mib"], s["growth_second_half_mib"]), s["flat"]))
    v = ratio(med(results, "alphabet", "roo2"), r1("alphabet"))
    row("alphabet: 2 workers ≥ 1.6 × 1 worker", v, 1.6, "%.2f ×" % (v or 0))
    for w in METRICS_WORKLOADS:
        v = ratio(r1(w), med(results, w, "roo1nometrics"))
        row("%s: metrics on (the default) ≥ 0.97 × metrics off" % w, v, 0.97, "%.3f ×" % (v or 0))
    lat_on = [x for x in results.get("latency", []) if x["system"] == "roo1" and "invalid" not in x]
    lat_off = {x["fraction"]: x for x in results.get("latency", []) if x["system"] == "roo1nometrics"
               and "invalid" not in x}
    for x in lat_on:
        off = lat_off.get(x["fraction"])
        if off:
            rows.append(("latency at %.0f %% load, metrics on vs off: p99" % (100 * x["fraction"]),
                         "%.0f vs %.0f µs" % (x["p99_us"], off["p99_us"]), None))
    for w in CKPT_WORKLOADS:
        v = checkpoint_ratio(results, w)
        row("%s: checkpoints every 1 s ≥ 0.97 × without" % w, v, 0.97, "%.3f ×" % (v or 0))
    lat = [x for x in results.get("latency", []) if x["system"] == "roo1ckpt" and "invalid" not in x]
    row("latency at 50 % load with checkpoints every 1 s: p99 ≤ 1.5 ms", lat[0]["p99_us"] if lat else None, 1500,
        "%.0f µs" % lat[0]["p99_us"] if lat else "", higher=False)
    ck = results.get("checkpoint", {})
    big = [c for c in ck.get("pause", []) if c["percent"] == 1]
    if ck.get("available") and big:
        c = max(big, key=lambda c: c["keys"])
        row("checkpoint with %s keys, 1 %% changing: executor pause p99 ≤ 1 s (Flink's changelog target)" % fmt(
            c["keys"]), c["pause_ms"]["p99"], 1000, "%.1f ms" % c["pause_ms"]["p99"], higher=False)
        row("the same: whole checkpoint (pause + write) p99 ≤ 1 s", c["pause_ms"]["p99"] + c["write_ms"]["p99"], 1000,
            "%.1f ms" % (c["pause_ms"]["p99"] + c["write_ms"]["p99"]), higher=False)
    rec = ck.get("recovery") if ck.get("available") else None
    if rec:
        v = rec["summary"]["kill_to_first_output_s"]["median"]
        row("recovery after kill -9 with %s keys ≤ 2 s (kill → outputs again)" % fmt(rec["keys"]), v, 2.0,
            "%.2f s (median of %d)" % (v, len(rec["rounds"])), higher=False)
    kafka = results.get("kafka", {})
    if kafka.get("available"):
        def kafka_rate(workload, system):
            entry = kafka.get("throughput", {}).get(workload, {}).get(system) or {}
            return (entry.get("rate") or {}).get("median")

        for text, a, b, limit in (
                ("Kafka passthrough: Roo 1 worker ≥ 0.7 × the broker's limit", ("passthrough", "roo1"),
                 ("passthrough", "limit"), 0.7),
                ("Kafka alphabet: Roo 1 worker ≥ 3 × Bytewax", ("alphabet", "roo1"), ("alphabet", "bytewax"), 3.0),
                ("Kafka alphabet: Roo 1 worker ≥ 3 × Quix Streams", ("alphabet", "roo1"), ("alphabet", "quix"), 3.0)):
            v = ratio(kafka_rate(*a), kafka_rate(*b))
            row(text, v, limit, "%.2f ×" % v if v else "not available")
        for w in ("passthrough", "alphabet"):
            # The median of the rounds' paired ratios, as bench/kafka/run.py reports it.
            paired = (kafka.get("exactly_once_paired") or {}).get(w)
            v = paired["median"] if paired else None
            row("Kafka %s: exactly-once (1 s checkpoints) ≥ 0.9 × at-least-once (paired rounds)" % w, v, 0.9,
                "%.2f × (rounds %.2f-%.2f)" % (v, paired["min"], paired["max"]) if paired else "not available")
    windows = results.get("windows", {})
    if windows.get("available"):
        def windows_rate(system):
            return ((windows.get("throughput", {}).get(system) or {}).get("rate") or {}).get("median")

        for text, other, limit in (("Windows: Roo 1 worker ≥ 3 × Bytewax", "bytewax", 3.0),
                                   ("Windows: Roo 1 worker ≥ 0.7 × the ceiling", "ceiling", 0.7)):
            v = ratio(windows_rate("roo1"), windows_rate(other))
            row(text, v, limit, "%.2f ×" % v if v else "not available")
        lat = [x["p99_ms"] for x in windows.get("latency", []) if "p99_ms" in x and not x.get("invalid")]
        row("Windows: watermark past a window's end → output, p99 ≤ 5 ms (the worst latency row)",
            max(lat) if lat else None, 5.0, "%.2f ms" % max(lat) if lat else "", higher=False)
    return rows


def render(results):
    m = results["machine"]
    lines = []
    add = lines.append
    add("Measured %s on %s, %s GiB RAM, %s, kernel %s; Python %s; Roo %s, %s, libpython linked %s; "
        "Bytewax %s. 1-minute load average: %.1f at the start, %.1f at the end (other work shares the machine)." % (
            m["date"], m["cpu"], m["memory_gib"], m["os"], m["kernel"], m["python"], m["commit"], m["build"],
            results["roo_libpython"], results.get("bytewax_version") or "not installed",
            results["load_start"], results["load_end"]))
    add("")
    add("Command: `%s` (%.0f s). %d runs per row (the checkpoint pair: --ckpt-runs rounds), rounds interleaved "
        "(each round runs every system once)." % (
        results["command"], results["elapsed_s"], OPTS.runs))
    if results.get("bytewax_error"):
        add("")
        add("Bytewax could not be installed: `%s`" % results["bytewax_error"])
    add("")
    add("#### Throughput")
    add("")
    add("events/s = input events / (first write of `roo send`, after it loaded its file → `roo receive` has every output); Bytewax: input events / "
        "time inside `run_main` (it reads the files itself, no sockets); ceilings: events / CPU time of the loop. "
        "Median (min–max) of the valid runs; CPU s per million events (all the server's threads, 2 workers "
        "summed); peak RSS (VmHWM; 2 workers summed); load = median 1-minute load average at the runs' start.")
    add("")
    add("| workload | events per run | system | events/s median | min–max | outputs/s | CPU s / M events "
        "| peak RSS MiB | load | valid runs |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for w in results["order"]:
        wr = results["workloads"][w]
        for system in ("ceiling", "ceiling_roo") + tuple(x for x in SYSTEMS if x != "roo1ckpt") + CKPT_PAIR:
            x = wr.get(system)
            if x is None:
                continue
            info = wr["info_ckpt"] if system in CKPT_PAIR else wr["info"]
            name = NAMES[system] if system != "ceiling_roo" else "ceiling, embedded %s libpython (roo's link)" % (
                results["roo_libpython"])
            if "rate" not in x:
                add("| %s | %s | %s | **invalid** | %s | | | | | 0/%d |" % (
                    w, fmt(info["events"]), name, "; ".join(x.get("invalid", []))[:200], len(x.get("runs", []))))
                continue
            if system.startswith("ceiling"):
                add("| %s | %s | %s | **%s** | %s–%s | - | %.2f | - | - | - |" % (
                    w, fmt(info["events"]), name, fmt(x["rate"]["median"]), fmt(x["rate"]["min"]),
                    fmt(x["rate"]["max"]), 1e6 / x["rate"]["median"]))
                continue
            bold = "**%s**" % fmt(x["rate"]["median"])
            add("| %s | %s | %s | %s | %s–%s | %s | %.2f | %.1f | %.1f | %d/%d%s |" % (
                w, fmt(info["events"]), name, bold, fmt(x["rate"]["min"]), fmt(x["rate"]["max"]),
                fmt(x["outputs_per_s"]["median"]), x["cpu_s_per_m"]["median"], x["rss_peak_mib"]["median"],
                x["loadavg_1min"]["median"], x["valid"], len(x["runs"]),
                (" (" + "; ".join(x["invalid"])[:200] + ")") if x["invalid"] else ""))
    add("")
    add("Ratios of medians (Roo 1 worker / other):")
    add("")
    add("| workload | / ceiling | / ceiling (roo's link) | / asyncio | / Bytewax | 2 workers / 1 worker "
        "| checkpoints every 1 s / none |")
    add("|---|---|---|---|---|---|---|")
    for w in results["order"]:
        r1 = med(results, w, "roo1")

        def rt(other):
            o = med(results, w, other)
            return "%.2f" % (r1 / o) if r1 and o else "-"
        r2 = med(results, w, "roo2")
        ck = checkpoint_ratio(results, w)
        add("| %s | %s | %s | %s | %s | %s | %s |" % (w, rt("ceiling"), rt("ceiling_roo"), rt("asyncio"),
                                                      rt("bytewax"), "%.2f" % (r2 / r1) if r1 and r2 else "-",
                                                      "%.3f" % ck if ck else "-"))
    notes = []
    for w in results["order"]:
        wr = results["workloads"][w]
        x = wr.get("roo1ckpt", {})
        if x.get("checkpoints"):
            ratios = paired_ratios(results, w)
            three = lambda v: "%.3f" % v if v else "-"
            notes.append("%s %s events, %.0f checkpoints per run (median, the stop's included), largest executor "
                         "pause %.2f ms; the rounds' ratios %s (min-max; median %s), the ratio of the two "
                         "medians %s" % (w, fmt(wr["info_ckpt"]["events"]), x["checkpoints"]["median"],
                                         x["pause_ms_max"]["max"], "%.3f-%.3f" % (min(ratios), max(ratios))
                                         if ratios else "-", three(checkpoint_ratio(results, w)),
                                         three(checkpoint_ratio_of_medians(results, w))))
    if notes:
        add("")
        add("Checkpoints every 1 s / none: Roo 1 worker with `--checkpoint-dir` (a fresh folder per run) "
            "`--checkpoint-interval %s` against Roo 1 worker without, on the same longer input (%.0f × the "
            "workload's events, so every run holds several checkpoints), the two back to back in each of %d rounds "
            "(--ckpt-runs), in alternating order; the ratio is the median of the rounds' ratios. %s." % (
                OPTS.checkpoint_interval, OPTS.ckpt_events_scale, OPTS.ckpt_runs, "; ".join(notes)))
    if results.get("latency"):
        add("")
        add("#### Latency (alphabet)")
        add("")
        mx = results.get("latency_max", {})
        add("`bench/apps/alphabet_timed.py` (alphabet + a u64 CLOCK_MONOTONIC send stamp, echoed in each output "
            "line; 17-byte frames, a little more Python work per event than alphabet), open loop: every 1 ms a "
            "Python sender writes all events due; a Python receiver stamps each read. Offered load = the fraction "
            "of **each server's own maximum with this timed app**, measured just before in this run (%d full-speed "
            "runs of 1M events, send → last output): Roo 1 worker %s events/s, asyncio server %s events/s. Each row "
            "is %d runs of %.0f s (the first 0.5 s of each left out), the two servers interleaved; every figure is "
            "the median over the runs, with min–max for p99 and p99.99. Bytewax is not in this table: it reads "
            "files, it has no socket input to time. The row with checkpoints every 1 s (a fresh `--checkpoint-dir` "
            "per run) is offered Roo 1 worker's 50 %% rate, the same as the row without." % (
                OPTS.latency_max_runs, fmt(mx.get("roo1", {}).get("median")), fmt(mx.get("asyncio", {}).get("median")),
                OPTS.latency_repeats, OPTS.latency_seconds))
        add("")
        add("| server | load | offered events/s | p50 | p95 | p99 (min–max) | p99.9 | p99.99 (min–max) | max | CPU s / M | "
            "Python thread runnable-waiting | load avg | valid runs |")
        add("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for x in results["latency"]:
            if "invalid" in x:
                add("| %s | %.0f %% | %s | invalid: %s |||||||||" % (NAMES[x["system"]], 100 * x["fraction"],
                                                                   fmt(x["offered_rate"]), x["invalid"][:200]))
                continue
            add("| %s | %.0f %% | %s | %.0f µs | %.0f µs | %.0f µs (%.0f–%.0f) | %.0f µs | %.0f µs (%.0f–%.0f) | %.0f µs "
                "| %.2f | %.1f %% | %.1f | %d/%d |" % (
                    NAMES[x["system"]], 100 * x["fraction"], fmt(x["offered_rate"]), x["p50_us"], x["p95_us"],
                    x["p99_us"], x.get("p99_us_min", x["p99_us"]), x.get("p99_us_max", x["p99_us"]), x["p999_us"],
                    x["p9999_us"], x.get("p9999_us_min", x["p9999_us"]), x.get("p9999_us_max", x["p9999_us"]),
                    x.get("max_us_max", x["max_us"]), x["cpu_s_per_m"], 100 * x["main_runqueue_share"],
                    x["loadavg_1min"], x.get("valid_runs", 1), len(x.get("runs", [x]))))
    mem = results.get("memory")
    if mem:
        add("")
        add("#### Memory")
        add("")
        add("Idle (alphabet app, ready, no traffic, after 2 s), VmRSS: Roo 1 worker %s MiB; Roo 2 workers %s MiB; "
            "asyncio server %s MiB." % tuple(", ".join("%.1f" % v for v in mem["idle_" + s])
                                            for s in ("roo1", "roo2", "asyncio")))
        s = mem["slow_sink"]
        add("")
        add("Slow sink: Roo 1 worker, alphabet; `roo send --repeat` pushes as fast as it can; the receiver reads "
            "%.1f MB/s (16 KiB reads, 64 KiB SO_RCVBUF). Worker VmRSS every 200 ms for %.0f s: **%.1f MiB at the "
            "start, max %.1f, last %.1f**; the second half's max exceeds the first half's by %.1f MiB → %s. "
            "The worker used %.0f %% of a CPU meanwhile." % (
                s["rate_bytes_per_s"] / 1e6, s["seconds"], s["start_mib"], s["max_mib"], s["last_mib"],
                s["growth_second_half_mib"], "flat (backpressure holds)" if s["flat"] else "NOT flat",
                100 * s["worker_cpu_share"]))
        add("")
        add("RSS samples (s, MiB): " + ", ".join("%.1f:%.1f" % x for x in s["samples"][::5]) + ".")
    add("")
    add("#### Instructions per event, the inter-worker hop, checkpoints and recovery, Kafka, windows")
    add("")
    for key, title in (("callgrind", "callgrind (`bench/callgrind/run.py --json`)"),
                       ("hop", "inter-worker hop (`bench/hop/run.py --json`)"),
                       ("checkpoint", "checkpoints and recovery (`bench/checkpoint/run.py --json`)"),
                       ("kafka", "Kafka in and out (`bench/kafka/run.py --json`)"),
                       ("windows", "windows (`bench/windows/run.py --json`)")):
        x = results.get(key, {})
        if not x.get("available"):
            add("- %s: **not available** (%s)." % (title, x.get("why", "not run")))
        elif x.get("rendered"):
            add("%s:" % (title[0].upper() + title[1:]))
            add("")
            add(x["rendered"].strip())
            add("")
        else:
            shown = {k: v for k, v in x.items() if k not in ("available", "rendered")}
            add("- %s: `%s`" % (title, json.dumps(shown, sort_keys=True)[:1500]))
    add("")
    add("#### Targets")
    add("")
    add("| target | measured | met |")
    add("|---|---|---|")
    for text, shown, met in targets(results):
        add("| %s | %s | %s |" % (text, shown, {True: "**yes**", False: "**no**", None: ""}[met]))
    add("")
    add("![throughput and latency](benchmarks.png)")
    return "\n".join(lines) + "\n"


def plot(results):
    if not ensure_matplotlib():
        say("plot: matplotlib is not available; no PNG")
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    systems = ["ceiling", "ceiling_roo", "asyncio", "bytewax", "roo1", "roo2", "roo1ckpt"]
    labels = {"ceiling": "ceiling (python3)", "ceiling_roo": "ceiling (roo's libpython)",
              "asyncio": "asyncio server", "bytewax": "Bytewax", "roo1": "Roo 1 worker", "roo2": "Roo 2 workers",
              "roo1ckpt": "Roo 1 worker, checkpoints 1 s (longer input)", "roo1nometrics": "Roo 1 worker, metrics off"}
    colors = {"ceiling": "#bbbbbb", "ceiling_roo": "#888888", "asyncio": "#e6a23c", "bytewax": "#9b59b6",
              "roo1": "#2e86de", "roo2": "#0a3d62", "roo1ckpt": "#27ae60", "roo1nometrics": "#c0392b"}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [1.6, 1]})
    ws = results["order"]
    width = 0.8 / len(systems)
    for j, s in enumerate(systems):
        xs, ys, lo, hi = [], [], [], []
        for i, w in enumerate(ws):
            x = results["workloads"][w].get(s, {}).get("rate")
            if x:
                xs.append(i + (j - (len(systems) - 1) / 2) * width)
                ys.append(x["median"] / 1e6)
                lo.append((x["median"] - x["min"]) / 1e6)
                hi.append((x["max"] - x["median"]) / 1e6)
        ax1.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=labels[s], color=colors[s])
    ax1.set_xticks(range(len(ws)))
    ax1.set_xticklabels([w.replace("_", " ") for w in ws])
    ax1.set_yscale("log")
    ax1.set_ylabel("million input events / s (median, min–max; log scale)")
    ax1.set_title("Throughput (%s)" % results["machine"]["cpu"])
    ax1.legend(fontsize=8, ncol=2)
    ax1.grid(axis="y", alpha=0.3)
    pcts = [("p50_us", "p50"), ("p95_us", "p95"), ("p99_us", "p99"), ("p999_us", "p99.9"), ("p9999_us", "p99.99")]
    styles = {0.25: ":", 0.5: "-", 0.75: "--"}
    for x in results.get("latency", []):
        if "invalid" in x:
            continue
        ax2.plot(range(len(pcts)), [x[k] / 1000 for k, _ in pcts], styles.get(x["fraction"], "-"), marker="o",
                 color=colors[x["system"]], label="%s, %.0f %% load" % (labels[x["system"]], 100 * x["fraction"]))
    ax2.set_xticks(range(len(pcts)))
    ax2.set_xticklabels([n for _, n in pcts])
    ax2.set_yscale("log")
    ax2.set_ylabel("latency, ms (log)")
    ax2.set_title("Alphabet latency at fixed offered loads")
    ax2.axhline(1, color="red", lw=0.6, ls=":")
    ax2.axhline(5, color="red", lw=0.6, ls=":")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(PNG, dpi=110)
    plt.close(fig)
    return True


def update_docs(text):
    with open(DOCS) as f:
        doc = f.read()
    begin, end = doc.find(DOCS_BEGIN), doc.find(DOCS_END)
    if begin < 0 or end < begin:
        raise BenchError("%s has no %r ... %r markers" % (DOCS, DOCS_BEGIN, DOCS_END))
    with open(DOCS, "w") as f:
        f.write(doc[:begin + len(DOCS_BEGIN)] + "\n" + text + doc[end:])


# ---------------------------------------------------------------- main

def save_partial(results):
    with open(os.path.join(OUT, "suite.partial.json"), "w") as f:
        json.dump(results, f, indent=1)


def snapshot_roo(path):
    """A private copy of the roo binary in bench/out/, so a rebuild of build/ during the run changes nothing."""
    # Same file name as the original: bench/callgrind attributes costs by the object file's name.
    os.makedirs(os.path.join(OUT, "under-test"), exist_ok=True)
    target = os.path.join(OUT, "under-test", "roo")
    deadline = time.monotonic() + 120
    while True:
        try:
            shutil.copy2(path, target + ".tmp")
            os.replace(target + ".tmp", target)
            subprocess.run([target, "--help"], capture_output=True, check=True, timeout=10)
            return target
        except (OSError, subprocess.SubprocessError) as error:
            if time.monotonic() > deadline:
                raise BenchError("cannot copy a working %s for the run: %s" % (path, error))
            say("roo binary busy (%s); retrying" % error)
            time.sleep(2)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer events, 3 runs, short latency and memory runs (about 3-4 min)")
    p.add_argument("--roo", default=os.path.join(REPO, "build", "src", "cli", "roo"), help="roo binary")
    p.add_argument("--runs", type=int, default=0, help="throughput runs per system (default 5, --quick 3)")
    p.add_argument("--workloads", default=",".join(plan.WORKLOADS), help="comma-separated (default: all)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS))
    p.add_argument("--events-scale", type=float, default=1.0, help="multiply every workload's event count")
    p.add_argument("--ckpt-events-scale", type=float, default=0,
                   help="events of the roo1ckpt rows (and their paired roo1 rows) as a multiple of the workload's "
                        "full event count, so a run holds several checkpoints (default 6, --quick 3)")
    p.add_argument("--checkpoint-interval", default="1s", help="roo1ckpt's --checkpoint-interval (default 1s)")
    p.add_argument("--ckpt-runs", type=int, default=0,
                   help="rounds of the roo1ckpt pair (default 9, --quick 3; at least --runs): its ratio is the "
                        "median of the rounds' paired ratios")
    p.add_argument("--latency-loads", default="0.25,0.5,0.75", help="fractions of each server's own maximum")
    p.add_argument("--latency-seconds", type=float, default=0, help="per latency row (default 5, --quick 2)")
    p.add_argument("--latency-max-runs", type=int, default=3, help="full-speed runs of the latency app (default 3)")
    p.add_argument("--latency-repeats", type=int, default=0, help="runs per latency row (default 5, --quick 1)")
    p.add_argument("--slow-rate", type=int, default=1_000_000, help="slow receiver's bytes/s (default 1 MB/s)")
    p.add_argument("--slow-seconds", type=float, default=0, help="slow-sink sampling time (default 10, --quick 5)")
    p.add_argument("--run-timeout", type=int, default=60, help="seconds a run may take before it is invalid")
    p.add_argument("--no-latency", action="store_true")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--no-external", action="store_true",
                   help="skip bench/callgrind, bench/hop, bench/checkpoint, bench/kafka and bench/windows")
    p.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md and the PNG")
    p.add_argument("--role", default="bench", choices=["bench", "ceiling", "slow-receiver"], help=argparse.SUPPRESS)
    p.add_argument("--workload", help=argparse.SUPPRESS)
    p.add_argument("--events", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--rate", type=int, default=1_000_000, help=argparse.SUPPRESS)
    opts = p.parse_args()
    opts.runs = opts.runs or (3 if opts.quick else 5)
    opts.ckpt_events_scale = opts.ckpt_events_scale or (3.0 if opts.quick else 6.0)
    opts.ckpt_runs = max(opts.ckpt_runs or (3 if opts.quick else 9), opts.runs)
    opts.latency_seconds = opts.latency_seconds or (2.0 if opts.quick else 5.0)
    # Five, not three: one stall of the shared cores (tens of ms) queues ~1 % of a 5 s run's events behind it and so
    # moves that run's p99; with three runs, two such runs set the median (session 27's full run, docs/benchmarks.md).
    opts.latency_repeats = opts.latency_repeats or (1 if opts.quick else 5)
    opts.slow_seconds = opts.slow_seconds or (5.0 if opts.quick else 10.0)
    opts.latency_loads = [float(x) for x in opts.latency_loads.split(",") if x]
    return opts


def main():
    global OPTS
    OPTS = opts = parse_args()
    if opts.role == "ceiling":
        ceiling_role(opts)
        return 0
    if opts.role == "slow-receiver":
        slow_receiver_role(opts)
        return 0
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if not os.access(opts.roo, os.X_OK):
        raise BenchError("no roo binary at %s (bench/run builds it with tools/setup)" % opts.roo)
    os.makedirs(OUT, exist_ok=True)
    began = time.monotonic()
    machine = A.machine_info(opts)
    opts.roo = snapshot_roo(opts.roo)
    results = {"command": " ".join(["bench/run"] + sys.argv[1:]), "machine": machine,
               "load_start": A.loadavg(), "workloads": {}, "order": [], "options": {
                   k: v for k, v in vars(opts).items() if k not in ("role", "workload", "events", "expect", "rate")}}
    systems = [s for s in opts.systems.split(",") if s]
    if "bytewax" in systems:
        results["bytewax_version"] = ensure_bytewax(results)
        if not results["bytewax_version"]:
            say("bytewax: not available: %s" % results.get("bytewax_error"))
            systems.remove("bytewax")
    results["roo_libpython"] = A.roo_libpython(opts.roo)
    roo_interp = [A.build_embed_python(results["roo_libpython"])]

    for w in [x for x in opts.workloads.split(",") if x]:
        logic, data = plan.load(w)
        sys.path.remove(plan.workload_dir(w))
        del sys.modules["logic"], sys.modules["data"]
        n = int((data.QUICK_EVENTS if opts.quick else data.EVENTS) * opts.events_scale)
        info = data.make(OUT, n)
        info["n_param"] = n
        wr = results["workloads"][w] = {"info": {k: v for k, v in info.items() if k not in ("files", "warmup")}}
        wr["info"]["files"] = [[name, os.path.relpath(path, REPO), flags] for name, path, flags in info["files"]]
        results["order"].append(w)
        say("%s: %s events, %s outputs" % (w, fmt(n), fmt(info["outputs"])))
        for key, interp in (("ceiling", ["/usr/bin/python3"]), ("ceiling_roo", roo_interp)):
            rates = ceiling(opts, interp, w, n, info["outputs"])
            wr[key] = {"rate": A.summarise(rates)}
            say("  %s: median %s events/s of CPU time" % (key, fmt(wr[key]["rate"]["median"])))
        plain = [s for s in systems if s != "roo1ckpt" and (s != "roo1nometrics" or w in METRICS_WORKLOADS)]
        pair = list(CKPT_PAIR) if "roo1ckpt" in systems and w in CKPT_WORKLOADS else []
        if pair:
            n_ckpt = int(data.EVENTS * opts.ckpt_events_scale * opts.events_scale)
            info_ckpt = data.make(OUT, n_ckpt)
            info_ckpt["n_param"] = n_ckpt
            wr["info_ckpt"] = {"events": info_ckpt["events"], "outputs": info_ckpt["outputs"],
                               "checkpoint_interval": opts.checkpoint_interval}
            say("%s, checkpoint rows: %s events, %s outputs" % (w, fmt(n_ckpt), fmt(info_ckpt["outputs"])))
        runs = {s: [] for s in plain + pair}
        for index in range(max(opts.runs, opts.ckpt_runs if pair else 0)):
            # The pair runs back to back, in turn base first and checkpoints first (a drift of the machine during
            # a round then favours neither), and for --ckpt-runs rounds, the others for --runs.
            ordered = pair if index % 2 == 0 else pair[::-1]
            for s in (plain if index < opts.runs else []) + ordered:
                try:
                    r = tput_run(s, w, info_ckpt if s in pair else info, data, index)
                except (A.BenchError, OSError, subprocess.SubprocessError, ValueError) as error:
                    A.cleanup_children()  # only this run's processes are alive here
                    r = {"invalid": "harness error: %s" % error}
                    say("  %s run %d INVALID: %s" % (s, index + 1, error))
                runs[s].append(r)
                if "invalid" not in r:
                    say("  %s run %d: %s events/s, %.2f CPU s/M, %.1f MiB, load %.1f%s" % (
                        s, index + 1, fmt(r["rate"]), r["cpu_s_per_m"], r["rss_peak_mib"], r["loadavg_1min"],
                        ", %d checkpoints, largest pause %.2f ms" % (r["checkpoints"], r["pause_ms_max"])
                        if "checkpoints" in r else ""))
        for s in plain + pair:
            wr[s] = summarise(runs[s])
        globals()["_data_" + w] = info

    save_partial(results)
    if not opts.no_latency and "alphabet" in results["workloads"]:
        results["latency"] = latency(results)
    if not opts.no_memory:
        alphabet = globals().get("_data_alphabet")
        if alphabet is None:
            _, data = plan.load("alphabet")
            alphabet = data.make(OUT, data.QUICK_EVENTS)
        results["memory"] = memory(results, alphabet)
        save_partial(results)
    if not opts.no_external:
        for key, script, quick_args in (("callgrind", "callgrind/run.py", ["--repeats", "1"]),
                                        ("hop", "hop/run.py", ["--runs", "2", "--events", "300000"]),
                                        ("checkpoint", "checkpoint/run.py", ["--checkpoints", "5", "--big-keys",
                                                                            "200000"])):
            say("%s: %s --json" % (key, script))
            results[key] = external(script, quick_args)
        # Kafka's own block of docs/benchmarks.md is written by bench/kafka/run.py run alone; here its table goes
        # into this run's results block.
        say("kafka: kafka/run.py --json")
        results["kafka"] = external("kafka/run.py", ["--quick"], ["--no-docs"], timeout=1800)
        # The same for the windows benchmark (its own block is written by bench/windows/run.py run alone).
        say("windows: windows/run.py --json")
        results["windows"] = external("windows/run.py", ["--quick"], ["--no-docs"], timeout=1800)
    results["load_end"] = A.loadavg()
    results["elapsed_s"] = time.monotonic() - began
    text = render(results)
    with open(os.path.join(OUT, "suite.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(OUT, "suite.md"), "w") as f:
        f.write(text)
    print(text)
    partial = partial_run(opts)
    if partial and not opts.no_docs:
        say("docs/benchmarks.md left as it is: this run leaves out %s, and its block would lose those rows (a run "
            "without --workloads, --systems and --no-latency/--no-memory/--no-external rewrites it)" % partial)
    if not opts.no_docs and not partial:
        if plot(results):
            say("wrote %s" % os.path.relpath(PNG, REPO))
        update_docs(text)
        say("rewrote the results block of docs/benchmarks.md")
    say("(%.0f s; results in bench/out/suite.{md,json})" % results["elapsed_s"])
    return 0


def partial_run(opts):
    """What a run leaves out that the docs' results block shows ("" for a whole run): such a run must not replace
    the block."""
    left = []
    missing = set(plan.WORKLOADS) - set(x for x in opts.workloads.split(",") if x)
    if missing:
        left.append("workloads %s" % ", ".join(sorted(missing)))
    missing = set(SYSTEMS) - set(x for x in opts.systems.split(",") if x)
    if missing:
        left.append("systems %s" % ", ".join(sorted(missing)))
    left += [what for flag, what in ((opts.no_latency, "latency"), (opts.no_memory, "memory"),
                                     (opts.no_external, "callgrind, hop, checkpoint, kafka and windows")) if flag]
    return "; ".join(left)


OPTS = None

if __name__ == "__main__":
    try:
        sys.exit(main())
    except A.BenchError as error:
        print("bench: %s" % error, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        A.cleanup_children()
