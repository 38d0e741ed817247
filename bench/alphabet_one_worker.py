#!/usr/bin/python3
"""Benchmark: the alphabet example through one Roo worker (throughput, latency, baselines).

Run from anywhere (see bench/README.md):

    bench/run-alphabet                     # 1M events, 5 throughput runs, latency at 50 %
    bench/run-alphabet --update-docs       # same, and rewrite the results in docs/benchmarks.md

What it does, in order (everything on 127.0.0.1, ports picked free, every process it
starts is stopped before it exits):

1. Input: N alphabet votes (examples/alphabet/make_data.py's generator, fixed seed) as
   9-byte frames `u32 BE 5 | letter | u32 BE votes`, written once to bench/out/.
2. Ceilings: the example's own user functions (decode -> key -> state -> encode) in a
   tight Python loop over the pre-built payloads, no sockets, no framing; rate = N / CPU
   time of the loop. Measured twice: under /usr/bin/python3 (libpython linked statically)
   and under bench/tools/embed_python.c, an interpreter embedded like Roo's (shared
   libpython3.11.so), which runs the same Python code markedly slower.
3. Throughput, --runs times: `roo receive --expect N --stats`, then `roo run
   examples/alphabet/alphabet.py`, then `roo send` of the file at full speed. Throughput =
   N / (first output byte -> last output byte, timed by roo receive). Also reported:
   N / (send start -> receiver exit, timed here), the worker's CPU seconds per million
   events (utime+stime from /proc/PID/stat, before and after the events) and its peak
   RSS (VmHWM). Each run ends with SIGTERM; the worker must exit 0 and report N events
   in and N outputs written, the receiver N messages.
4. The same measurement with bench/baselines/asyncio_alphabet.py in place of the worker.
5. Latency at a fixed offered load (--latency-load x the median Roo throughput): this
   script paces frames of bench/apps/alphabet_timed.py (alphabet plus a u64
   CLOCK_MONOTONIC send stamp) every --pace-ms, and a receiver process stamps arrivals;
   latency = arrival - send stamp, percentiles over every event after --warmup seconds.
"""
import argparse
import collections
import datetime
import gc
import json
import os
import platform
import re
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import sysconfig
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# CLK_TCK, cpu_seconds and proc_stat_fields are also the other scripts' (as A.<name>).
from processes import (CLK_TCK, BenchError, cleanup_children, cpu_seconds, free_port, proc_stat_fields,  # noqa: E402,F401
                       spawn, tail, wait_for_text)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
READY = "|~~ INIT PHASE III: Application is ready to work! ~~|"
ALPHABET_APP = os.path.join(REPO, "examples", "alphabet", "alphabet.py")
TIMED_APP = os.path.join(HERE, "apps", "alphabet_timed.py")
ASYNCIO_SERVER = os.path.join(HERE, "baselines", "asyncio_alphabet.py")
DOCS = os.path.join(REPO, "docs", "benchmarks.md")
DOCS_BEGIN = "<!-- alphabet_one_worker results: begin (written by bench/alphabet_one_worker.py --update-docs) -->"
DOCS_END = "<!-- alphabet_one_worker results: end -->"


# ---------------------------------------------------------------- /proc

def thread_sched_ns(pid):
    """{tid: (ns on CPU, ns runnable but waiting for a CPU)} from /proc/PID/task/TID/schedstat."""
    result = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                on_cpu, waiting = f.read().split()[:2]
                result[int(tid)] = (int(on_cpu), int(waiting))
        except OSError:
            pass
    return result


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise BenchError("no VmHWM in /proc/%d/status" % pid)


# ---------------------------------------------------------------- input data

def load_make_data():
    sys.path.insert(0, os.path.join(REPO, "examples", "alphabet"))
    import make_data
    return make_data


def make_inputs(n):
    """(letter bytes, votes) pairs and the path of the 9-byte frame file, written once per n."""
    records = [(letter.encode("ascii"), votes) for letter, votes in load_make_data().records(n)]
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "alphabet_votes_%d.msg" % n)
    if not os.path.exists(path) or os.path.getsize(path) != 9 * n:
        pack = struct.Struct(">IcI").pack
        with open(path + ".tmp", "wb") as f:
            f.write(b"".join(pack(5, letter, votes) for letter, votes in records))
        os.replace(path + ".tmp", path)
    return records, path


# ---------------------------------------------------------------- ceiling

def load_alphabet():
    sys.path.insert(0, os.path.join(REPO, "python"))
    sys.path.insert(0, os.path.join(REPO, "examples", "alphabet"))
    import alphabet
    return alphabet


def ceiling_once(alphabet, payloads):
    """The user functions only: decode, key, state lookup/creation, compute, encode.

    Returns (events per second of this thread's CPU time, number of outputs)."""
    decode = alphabet.decode_votes._roo_fn
    key = alphabet.letter_of._roo_fn
    compute = alphabet.add_votes._roo_fn
    encode = alphabet.encode_total._roo_fn
    state_cls = alphabet.LetterTotal
    states = {}
    outs = []  # output bytes are joined and dropped every 8192 events, as a sink would take them
    append = outs.append
    produced = 0
    start = time.thread_time()
    for payload in payloads:
        event = decode(payload)
        k = key(event)
        state = states.get(k)
        if state is None:
            state = states[k] = state_cls()
        append(encode(compute(event, state)))
        if len(outs) == 8192:
            b"".join(outs)
            produced += len(outs)
            outs.clear()
    produced += len(outs)
    seconds = time.thread_time() - start
    return len(payloads) / seconds, produced


def ceiling_role(opts):
    """--role ceiling: the ceiling loop --runs times; prints the rates as one JSON list."""
    records = [(letter.encode("ascii"), votes) for letter, votes in load_make_data().records(opts.events)]
    alphabet = load_alphabet()
    payloads = [struct.pack(">cI", letter, votes) for letter, votes in records]
    rates = []
    for _ in range(opts.runs):
        rate, produced = ceiling_once(alphabet, payloads)
        if produced != len(payloads):
            raise BenchError("ceiling produced %d outputs for %d events" % (produced, len(payloads)))
        rates.append(rate)
    print(json.dumps(rates), flush=True)


def build_embed_python(kind):
    """bench/out/embed_python_KIND: tools/embed_python.c linked to Debian's libpython3.11, rebuilt when stale.

    kind "shared": libpython3.11.so (pkg-config python3-embed), built -fPIC by Debian.
    kind "static": the non-PIC libpython3.11.a, executable linked -no-pie and --export-dynamic (so the
    lib-dynload extension modules find the C API), as Roo's CMakeLists.txt links roo when
    ROO_STATIC_LIBPYTHON is on."""
    source = os.path.join(HERE, "tools", "embed_python.c")
    binary = os.path.join(OUT, "embed_python_" + kind)
    if os.path.exists(binary) and os.path.getmtime(binary) >= os.path.getmtime(source):
        return binary
    if kind == "shared":
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "python3-embed"], capture_output=True, text=True)
        if flags.returncode != 0:
            raise BenchError("pkg-config python3-embed failed: %s" % flags.stderr.strip())
        argv = ["cc", "-O2", "-o", binary, source] + flags.stdout.split()
    else:
        libpl, library = sysconfig.get_config_var("LIBPL"), sysconfig.get_config_var("LIBRARY")
        argv = ["cc", "-O2", "-no-pie", "-o", binary, source, "-I" + sysconfig.get_paths()["include"],
                os.path.join(libpl, library), "-Wl,--export-dynamic", "-lexpat", "-lz", "-ldl", "-lm", "-lutil",
                "-lpthread"]
    build = subprocess.run(argv, capture_output=True, text=True)
    if build.returncode != 0:
        raise BenchError("building %s failed:\n%s\n%s" % (binary, " ".join(argv), build.stderr))
    return binary


def roo_libpython(roo):
    """"shared" when the roo binary needs libpython3.x.so at run time, else "static"."""
    dynamic = subprocess.run(["readelf", "-d", roo], capture_output=True, text=True)
    if dynamic.returncode != 0:
        raise BenchError("readelf -d %s failed: %s" % (roo, dynamic.stderr.strip()))
    return "shared" if re.search(r"NEEDED.*libpython", dynamic.stdout) else "static"


def ceiling(opts, interpreter):
    """Runs the ceiling loop under `interpreter` (argv prefix) in its own process; returns the rates."""
    done = subprocess.run(interpreter + [os.path.abspath(__file__), "--role", "ceiling", "--events", str(opts.events),
                                         "--runs", str(opts.runs)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise BenchError("ceiling under %s failed (%d):\n%s" % (interpreter[0], done.returncode, done.stderr))
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- throughput

def throughput_run(opts, label, index, frame_file, n, server_argv_for):
    """One measured run; server_argv_for(in_port, out_port) gives the worker's command line."""
    tag = "%s-%d" % (label, index)
    rx_log = os.path.join(OUT, "tput-%s-receive.log" % tag)
    w_log = os.path.join(OUT, "tput-%s-worker.log" % tag)
    with open(rx_log, "w") as rx_err:
        rx = spawn([opts.roo, "receive", "--listen", "127.0.0.1:0", "--no-write", "--expect", str(n), "--stats"],
                   stdout=subprocess.DEVNULL, stderr=rx_err)
    out_port = int(wait_for_text(rx_log, r"Listening on [^:]+:(\d+)", rx, 10, "roo receive").group(1))
    in_port = free_port()
    with open(w_log, "w") as w_err:
        worker = spawn(server_argv_for(in_port, out_port), stdout=subprocess.DEVNULL, stderr=w_err, cwd=REPO)
    wait_for_text(w_log, re.escape(READY), worker, 30, label)
    load = loadavg()
    cpu0 = cpu_seconds(worker.pid)
    threads0 = thread_sched_ns(worker.pid)
    t0 = time.monotonic()
    send = subprocess.run([opts.roo, "send", "--host", "127.0.0.1:%d" % in_port, "--file", frame_file, "--binary",
                           "--msg-size", "9", "--batch-size", "10000", "--interval", "0", "--no-write"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120, cwd=OUT)
    try:
        rx.wait(timeout=120)
    except subprocess.TimeoutExpired:
        raise BenchError("%s: the receiver did not get %d outputs within 120 s; worker log ends:\n%s"
                         % (tag, n, tail(w_log)))
    t1 = time.monotonic()
    cpu1 = cpu_seconds(worker.pid)
    threads1 = thread_sched_ns(worker.pid)
    hwm = vm_hwm_kib(worker.pid)
    worker.send_signal(signal.SIGTERM)
    try:
        code = worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise BenchError("%s: the worker did not exit within 30 s of SIGTERM" % tag)

    problems = []
    if send.returncode != 0 or ("sent %d messages" % n) not in send.stderr:
        problems.append("roo send exited %d: %s" % (send.returncode, send.stderr.strip()))
    stats = re.search(r"received (\d+) messages \((\d+) bytes\) in ([\d.]+) s", tail(rx_log))
    if rx.returncode != 0 or not stats or int(stats.group(1)) != n:
        problems.append("roo receive exited %s, stats %r" % (rx.returncode, stats and stats.group(0)))
    if code != 0:
        problems.append("the worker exited %d after SIGTERM" % code)
    stopped = re.search(r"stopped: (\d+) events in, (\d+) outputs written", tail(w_log))
    if not stopped or int(stopped.group(1)) != n or int(stopped.group(2)) != n:
        problems.append("the worker's count line is %r, want %d in and %d out" % (stopped and stopped.group(0), n, n))
    if problems:
        raise BenchError("%s: %s\nworker log %s ends:\n%s" % (tag, "; ".join(problems), w_log, tail(w_log)))

    # The main thread is the Python executor; the others serve I/O.
    main_tid = worker.pid
    main_ns = threads1[main_tid][0] - threads0.get(main_tid, (0, 0))[0]
    main_wait_ns = threads1[main_tid][1] - threads0.get(main_tid, (0, 0))[1]
    other_ns = sum(v[0] for v in threads1.values()) - sum(v[0] for v in threads0.values()) - main_ns
    receiver_seconds = float(stats.group(3))
    return {
        "events": n,
        "rate_first_to_last": n / receiver_seconds,
        "rate_send_to_last": n / (t1 - t0),
        "seconds_first_to_last": receiver_seconds,
        "seconds_send_to_last": t1 - t0,
        "cpu_s_per_m": (cpu1 - cpu0) / n * 1e6,
        "main_thread_cpu_s_per_m": main_ns / 1e9 / n * 1e6,
        "other_threads_cpu_s_per_m": other_ns / 1e9 / n * 1e6,
        # Of the send->last wall time: the share the Python thread ran, and waited runnable for a CPU.
        "main_busy_share": main_ns / 1e9 / (t1 - t0),
        "main_runqueue_share": main_wait_ns / 1e9 / (t1 - t0),
        "loadavg_1min": load,
        "vm_hwm_mib": hwm / 1024,
        "output_bytes": int(stats.group(2)),
    }


# ---------------------------------------------------------------- latency

def latency_receiver(opts):
    """--role latency-receiver: accept one connection, stamp every read, summarise at EOF.

    Prints `listening PORT`, then `done` once --expect lines have arrived, then (after the
    worker closes its sink connection) one JSON line: counts, final totals per letter and
    the (send_ns, latency_ns, events) groups. Parsing happens after EOF, not while reading."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print("listening %d" % listener.getsockname()[1], flush=True)
    conn, _ = listener.accept()
    gc.disable()  # no collection pause between two reads (it only appends (time, chunk) pairs until EOF)
    listener.close()
    now = time.monotonic_ns
    recv = conn.recv
    chunks = []
    lines = 0
    announced = False
    while True:
        chunk = recv(1 << 18)
        t = now()
        if not chunk:
            break
        chunks.append((t, chunk))
        if not announced:
            lines += chunk.count(b"\n")
            if lines >= opts.expect:
                print("done", flush=True)
                announced = True
    groups = collections.Counter()
    totals = {}
    count = 0
    carry = b""
    ts_re = re.compile(rb" (\d+)\n")
    pair_re = re.compile(rb"(\w) => (\d+) ")
    for t, chunk in chunks:
        data = carry + chunk if carry else chunk
        end = data.rfind(b"\n") + 1
        complete, carry = data[:end], data[end:]
        stamps = ts_re.findall(complete)
        count += len(stamps)
        for stamp, events in collections.Counter(stamps).items():
            sent = int(stamp)
            groups[(sent, t - sent)] += events
        totals.update(pair_re.findall(complete))
    print(json.dumps({
        "lines": count,
        "trailing_bytes": len(carry),
        "totals": {k.decode(): int(v) for k, v in totals.items()},
        "groups": [[s, lat, c] for (s, lat), c in groups.items()],
    }), flush=True)


def percentile(sorted_pairs, total, q):
    """sorted_pairs: [(latency, count)] ascending; the smallest latency with >= q of the events at or below it."""
    want = q * total
    seen = 0
    for latency, count in sorted_pairs:
        seen += count
        if seen >= want:
            return latency
    return sorted_pairs[-1][0]


class LineReader:
    """Lines from a child's unbuffered stdout pipe, each awaited with a deadline."""

    def __init__(self, proc, what, log):
        self.fd = proc.stdout.fileno()
        self.what = what
        self.log = log
        self.buffer = b""

    def read_line(self, timeout, other_log=None):
        """The next line (decoded, with its newline), or "" at end of file; BenchError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise BenchError("%s: no line within %.0f s; its log ends:\n%s%s" % (
                    self.what, timeout, tail(self.log),
                    "\n%s ends:\n%s" % (other_log, tail(other_log)) if other_log else ""))
            data = os.read(self.fd, 1 << 20)
            if not data:
                line, self.buffer = self.buffer, b""
                return line.decode()
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode() + "\n"


def nonvoluntary_switches(pid):
    with open("/proc/%d/task/%d/status" % (pid, pid)) as f:
        for line in f:
            if line.startswith("nonvoluntary_ctxt_switches:"):
                return int(line.split()[1])
    return 0


def latency_run(opts, records, rate, label, server_argv_for):
    """One paced run against the server server_argv_for(in_port, out_port) starts (it must run the timed app)."""
    total = int(rate * opts.latency_seconds)
    heads = [struct.pack(">IcI", 13, letter, votes) for letter, votes in records]
    expected = {}
    n = len(heads)
    for i in range(total):
        letter, votes = records[i % n]
        expected[letter] = expected.get(letter, 0) + votes
    rx_log = os.path.join(OUT, "latency-%s-receive.log" % label)
    w_log = os.path.join(OUT, "latency-%s-worker.log" % label)
    with open(rx_log, "w") as rx_err:
        rx = spawn([sys.executable, os.path.abspath(__file__), "--role", "latency-receiver", "--expect", str(total)],
                   stdout=subprocess.PIPE, stderr=rx_err, bufsize=0)
    rx_lines = LineReader(rx, "the latency receiver", rx_log)
    first = rx_lines.read_line(10).split()
    if len(first) != 2 or first[0] != "listening":
        raise BenchError("latency receiver: %r; log:\n%s" % (first, tail(rx_log)))
    out_port = int(first[1])
    in_port = free_port()
    with open(w_log, "w") as w_err:
        worker = spawn(server_argv_for(in_port, out_port), stdout=subprocess.DEVNULL, stderr=w_err, cwd=REPO)
    wait_for_text(w_log, re.escape(READY), worker, 30, "%s (timed app)" % label)
    load = loadavg()
    cpu0 = cpu_seconds(worker.pid)
    main0 = thread_sched_ns(worker.pid)[worker.pid]
    switches0 = nonvoluntary_switches(worker.pid)

    # Open-loop paced sender: at each tick send every event due by now, stamped now.
    # The collector is off while pacing: a full collection of this process's millions of objects paused the sender
    # for up to 280 ms, and the events due meanwhile went out as one burst of ~150,000 that the server under test
    # then took ~150 ms to work through (seen as `batch_events_max` in bench/out/suite.json).
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    sock = socket.create_connection(("127.0.0.1", in_port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(30)  # a worker that stops reading for this long fails the run instead of hanging it
    tick_ns = int(opts.pace_ms * 1e6)
    clock = time.monotonic_ns
    start = clock()
    sent = 0
    batches = []
    next_tick = start
    while sent < total:
        now = clock()
        due = min(total, (now - start) * rate // 1_000_000_000)
        if due > sent:
            stamp = now.to_bytes(8, "big")
            a, b = sent % n, due - sent
            if a + b <= n:
                parts = heads[a:a + b]
            else:
                parts = heads[a:] + heads[:(a + b) - n]
                while len(parts) < b:  # a batch bigger than the record list (slow machine)
                    parts += heads[:b - len(parts)]
            sock.sendall(stamp.join(parts) + stamp)
            batches.append((now, b))
            sent = due
        next_tick += tick_ns
        pause = next_tick - clock()
        if pause > 0:
            time.sleep(pause / 1e9)
        else:
            next_tick = clock()
    send_seconds = (clock() - start) / 1e9
    if gc_was_enabled:
        gc.enable()

    # Every event sent should come back within a few seconds at this load.
    if rx_lines.read_line(30, w_log).strip() != "done":
        raise BenchError("latency receiver stopped early; log:\n%s\nworker log:\n%s" % (tail(rx_log), tail(w_log)))
    cpu1 = cpu_seconds(worker.pid)
    main1 = thread_sched_ns(worker.pid)[worker.pid]
    switches1 = nonvoluntary_switches(worker.pid)
    hwm = vm_hwm_kib(worker.pid)
    sock.close()
    worker.send_signal(signal.SIGTERM)
    code = worker.wait(timeout=30)
    result_line = rx_lines.read_line(60)
    rx.wait(timeout=30)
    if code != 0:
        raise BenchError("%s (timed app) exited %d; log:\n%s" % (label, code, tail(w_log)))
    summary = json.loads(result_line)
    stopped = re.search(r"stopped: (\d+) events in, (\d+) outputs written", tail(w_log))
    if summary["lines"] != total or summary["trailing_bytes"] or not stopped \
            or int(stopped.group(1)) != total or int(stopped.group(2)) != total:
        raise BenchError(label + " latency run: sent %d, received %d lines (+%d bytes), worker says %r"
                         % (total, summary["lines"], summary["trailing_bytes"], stopped and stopped.group(0)))
    want_totals = {k.decode(): v for k, v in expected.items()}
    if summary["totals"] != want_totals:
        raise BenchError(label + " latency run: final totals differ: got %r, want %r"
                         % (summary["totals"], want_totals))

    warm_from = start + int(opts.warmup * 1e9)
    pairs = collections.Counter()
    for sent_ns, latency, count in summary["groups"]:
        if sent_ns >= warm_from:
            pairs[latency] += count
    ordered = sorted(pairs.items())
    measured = sum(pairs.values())
    gaps = [(batches[i][0] - batches[i - 1][0]) / 1e6 for i in range(1, len(batches))]
    sizes = [b for _, b in batches]
    return {
        "offered_rate": rate,
        "achieved_send_rate": total / send_seconds,
        "events": total,
        "measured_events": measured,
        "warmup_s": opts.warmup,
        "pace_ms": opts.pace_ms,
        "batch_gap_ms_median": statistics.median(gaps),
        "batch_gap_ms_p99": sorted(gaps)[int(0.99 * (len(gaps) - 1))],
        "batch_events_median": statistics.median(sizes),
        "batch_events_max": max(sizes),
        "p50_us": percentile(ordered, measured, 0.50) / 1e3,
        "p90_us": percentile(ordered, measured, 0.90) / 1e3,
        "p95_us": percentile(ordered, measured, 0.95) / 1e3,
        "p99_us": percentile(ordered, measured, 0.99) / 1e3,
        "p999_us": percentile(ordered, measured, 0.999) / 1e3,
        "p9999_us": percentile(ordered, measured, 0.9999) / 1e3,
        "max_us": ordered[-1][0] / 1e3,
        "cpu_s_per_m": (cpu1 - cpu0) / total * 1e6,
        "vm_hwm_mib": hwm / 1024,
        # The Python thread: share of the run it spent runnable but off a CPU, and how often it was preempted.
        "main_runqueue_share": (main1[1] - main0[1]) / 1e9 / send_seconds,
        "main_preemptions": switches1 - switches0,
        "loadavg_1min": load,
    }


# ---------------------------------------------------------------- report

def summarise(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def machine_info(opts):
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 1024 / 1024
    build_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(opts.roo))))
    build_type = "unknown"
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", f.read(), re.M)
            build_type = m.group(1) if m else build_type
    except OSError:
        pass
    git = lambda *a: subprocess.run(["git", "-C", REPO] + list(a), capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": "%s, %d cores" % (model, os.cpu_count()),
        "memory_gib": round(mem_gib, 1),
        "kernel": platform.release(),
        "os": platform.freedesktop_os_release().get("PRETTY_NAME", "?"),
        "python": "%s (%s)" % (platform.python_version(), sys.executable),
        "commit": git("rev-parse", "--short", "HEAD") + (
            " + uncommitted changes in src/ or include/" if git("status", "--porcelain", "src", "include") else ""),
        "build": "%s build in %s/" % (build_type, os.path.relpath(build_dir, REPO)),
    }


def fmt_rate(x):
    return "{:,.0f}".format(x)


def render(results):
    m = results["machine"]
    o = results["options"]
    r = results["roo"]
    own = results["ceiling_" + results["roo_libpython"]]
    lines = []
    add = lines.append
    add("Measured %s on %s, %s GiB RAM, %s, kernel %s; Python %s; Roo %s, %s, libpython linked %s; "
        "1-minute load average %.1f at the start of the first Roo run (other work shares the machine)." % (
            m["date"], m["cpu"], m["memory_gib"], m["os"], m["kernel"], m["python"], m["commit"], m["build"],
            results["roo_libpython"], r["runs"][0]["loadavg_1min"]))
    add("")
    add("Command: `%s` (%.0f s)." % (results["command"], results["elapsed_s"]))
    add("")
    add("Throughput: %s events per run, %d runs per row, all rows from this one invocation. events/s = N / "
        "(first output byte -> last output byte, timed by `roo receive`); \"send->last\" = N / (start of "
        "`roo send` -> receiver exit after the N-th line, timed by the script). The ceilings are N / CPU time "
        "of the loop (`time.thread_time`)." % (fmt_rate(o["events"]), o["runs"]))
    add("")
    add("| what | events/s median | min | max | send->last median | CPU s / M events | peak RSS MiB |")
    add("|---|---|---|---|---|---|---|")
    for key, name in (("ceiling", "ceiling: user functions in a Python loop, no I/O, `/usr/bin/python3`"),
                      ("ceiling_shared", "ceiling, same loop, embedded shared `libpython3.11.so` (-fPIC)"),
                      ("ceiling_static", "ceiling, same loop, embedded static non-PIC `libpython3.11.a`")):
        x = results[key]
        mark = " (Roo's link)" if key == "ceiling_" + results["roo_libpython"] else ""
        add("| %s%s | **%s** | %s | %s | - | %.2f | - |" % (
            name, mark, fmt_rate(x["median"]), fmt_rate(x["min"]), fmt_rate(x["max"]), 1e6 / x["median"]))
    for key, name in (("roo", "**Roo** `roo run examples/alphabet/alphabet.py`, one worker"),
                      ("asyncio", "careful asyncio server (`bench/baselines/`), same user functions")):
        if key not in results:
            continue
        x = results[key]
        add("| %s | **%s** | %s | %s | %s | %.2f | %.1f |" % (
            name, fmt_rate(x["rate"]["median"]), fmt_rate(x["rate"]["min"]), fmt_rate(x["rate"]["max"]),
            fmt_rate(x["send_to_last"]["median"]), x["cpu"]["median"], x["hwm"]["max"]))
    add("")
    add("Ratios of medians: Roo / ceiling of Roo's own libpython link = **%.2f**; Roo / ceiling "
        "(`/usr/bin/python3`) = **%.2f**" % (r["rate"]["median"] / own["median"],
                                              r["rate"]["median"] / results["ceiling"]["median"]) + (
            "; Roo / careful asyncio = **%.2f**" % (r["rate"]["median"] / results["asyncio"]["rate"]["median"])
            if "asyncio" in results else "") + "; Roo / the 500,000 events/s floor = **%.2f**." % (
                r["rate"]["median"] / 500000))
    add("")
    add("Roo worker, medians per million events: Python executor (main) thread %.2f CPU s, I/O threads %.2f CPU s; "
        "the Python thread ran %.0f %% of the send->last time and waited runnable for a CPU %.1f %%." % (
            r["main_cpu"]["median"], r["other_cpu"]["median"],
            100 * statistics.median(x["main_busy_share"] for x in r["runs"]),
            100 * statistics.median(x["main_runqueue_share"] for x in r["runs"])))
    add("")
    add("Per run, events/s: Roo %s" % ", ".join(fmt_rate(x["rate_first_to_last"]) for x in r["runs"]) + (
        "; asyncio %s" % ", ".join(fmt_rate(x["rate_first_to_last"]) for x in results["asyncio"]["runs"])
        if "asyncio" in results else "") + ".")
    if results.get("latency"):
        first = results["latency"][0]
        add("")
        add("Latency, `bench/apps/alphabet_timed.py` (alphabet + a u64 send stamp in, echoed out), open loop: every "
            "%.1f ms the sender (a Python process) sends all events due so far in one write, stamped with "
            "CLOCK_MONOTONIC. Each row: %.1f s of sending, events sent in the first %.1f s left out; latency = "
            "CLOCK_MONOTONIC when the receiver's read returned the line - send stamp. Offered loads are fractions "
            "of the Roo median above; the same load is offered to both servers." % (
                first["pace_ms"], o["latency_seconds"], first["warmup_s"]))
        add("")
        add("| server | offered events/s | events per write: median / max | p50 | p90 | p99 | p99.9 | max "
            "| CPU s / M events | Python thread runnable-waiting | preemptions | load avg |")
        add("|---|---|---|---|---|---|---|---|---|---|---|---|")
        names = {"roo": "**Roo**, one worker", "asyncio": "careful asyncio server"}
        for lat in results["latency"]:
            add("| %s | %s (%.0f %%) | %d / %d | %.0f µs | %.0f µs | %.0f µs | %.0f µs | %.0f µs | %.2f | %.1f %% "
                "| %d | %.1f |" % (
                    names[lat["server"]], fmt_rate(lat["offered_rate"]),
                    100 * lat["offered_rate"] / r["rate"]["median"], lat["batch_events_median"],
                    lat["batch_events_max"], lat["p50_us"], lat["p90_us"], lat["p99_us"], lat["p999_us"],
                    lat["max_us"], lat["cpu_s_per_m"], 100 * lat["main_runqueue_share"], lat["main_preemptions"],
                    lat["loadavg_1min"]))
    return "\n".join(lines) + "\n"


def update_docs(text):
    with open(DOCS) as f:
        doc = f.read()
    begin, end = doc.find(DOCS_BEGIN), doc.find(DOCS_END)
    if begin < 0 or end < begin:
        raise BenchError("%s has no %r ... %r markers" % (DOCS, DOCS_BEGIN, DOCS_END))
    doc = doc[:begin + len(DOCS_BEGIN)] + "\n" + text + doc[end:]
    with open(DOCS, "w") as f:
        f.write(doc)


# ---------------------------------------------------------------- main

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--roo", default=os.path.join(REPO, "build", "src", "cli", "roo"), help="roo binary")
    p.add_argument("--events", type=int, default=1_000_000, help="events per throughput run (default 1M)")
    p.add_argument("--runs", type=int, default=5, help="throughput runs per server (default 5)")
    p.add_argument("--no-asyncio", action="store_true", help="skip the asyncio baseline")
    p.add_argument("--latency-load", default="0.5,0.1",
                   help="offered loads for the latency runs, comma-separated fractions of the median Roo "
                        "throughput (default 0.5,0.1)")
    p.add_argument("--latency-rate", type=int, default=0,
                   help="offered events/s for the latency run (overrides --latency-load)")
    p.add_argument("--latency-seconds", type=float, default=5.0, help="length of each latency run (default 5 s)")
    p.add_argument("--warmup", type=float, default=0.5, help="seconds of the latency run left out (default 0.5)")
    p.add_argument("--pace-ms", type=float, default=1.0, help="latency sender tick in ms (default 1)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency run")
    p.add_argument("--update-docs", action="store_true", help="rewrite the results block of docs/benchmarks.md")
    p.add_argument("--role", choices=["bench", "latency-receiver", "ceiling"], default="bench", help=argparse.SUPPRESS)
    p.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args()


def main():
    opts = parse_args()
    if opts.role == "latency-receiver":
        latency_receiver(opts)
        return 0
    if opts.role == "ceiling":
        ceiling_role(opts)
        return 0
    # SIGTERM unwinds like ^C, so the `finally` below stops every process this script started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if not os.access(opts.roo, os.X_OK):
        raise BenchError("no roo binary at %s (build it: cmake --build build -j2 --target roo)" % opts.roo)
    began = time.monotonic()
    results = {"command": " ".join(["bench/run-alphabet"] + sys.argv[1:]), "machine": machine_info(opts),
               "options": {k: v for k, v in vars(opts).items() if k not in ("role", "expect")}}
    say = lambda text: print(text, file=sys.stderr, flush=True)

    say("input: %d alphabet votes" % opts.events)
    records, frame_file = make_inputs(opts.events)

    results["roo_libpython"] = roo_libpython(opts.roo)
    for key, interpreter in (("ceiling", [sys.executable]),
                             ("ceiling_shared", [build_embed_python("shared")]),
                             ("ceiling_static", [build_embed_python("static")])):
        say("%s: the user functions in a Python loop under %s" % (key, interpreter[0]))
        results[key] = summarise(ceiling(opts, interpreter))
        say("  median %s events/s of CPU time" % fmt_rate(results[key]["median"]))

    servers = [("roo", lambda i, o: [opts.roo, "run", ALPHABET_APP, "--in", "Alphabet@127.0.0.1:%d" % i,
                                     "--out", "127.0.0.1:%d" % o])]
    if not opts.no_asyncio:
        servers.append(("asyncio", lambda i, o: [sys.executable, ASYNCIO_SERVER, "--in", "127.0.0.1:%d" % i,
                                                 "--out", "127.0.0.1:%d" % o]))
    for label, argv_for in servers:
        runs = []
        for index in range(opts.runs):
            run = throughput_run(opts, label, index, frame_file, opts.events, argv_for)
            say("%s run %d: %s events/s first->last, %s send->last, %.2f CPU s/M, %.1f MiB, main thread "
                "busy %.0f %% runnable-waiting %.0f %%, load %.1f" % (
                    label, index + 1, fmt_rate(run["rate_first_to_last"]), fmt_rate(run["rate_send_to_last"]),
                    run["cpu_s_per_m"], run["vm_hwm_mib"], 100 * run["main_busy_share"],
                    100 * run["main_runqueue_share"], run["loadavg_1min"]))
            runs.append(run)
        results[label] = {
            "runs": runs,
            "rate": summarise([r["rate_first_to_last"] for r in runs]),
            "send_to_last": summarise([r["rate_send_to_last"] for r in runs]),
            "cpu": summarise([r["cpu_s_per_m"] for r in runs]),
            "main_cpu": summarise([r["main_thread_cpu_s_per_m"] for r in runs]),
            "other_cpu": summarise([r["other_threads_cpu_s_per_m"] for r in runs]),
            "hwm": summarise([r["vm_hwm_mib"] for r in runs]),
        }

    if not opts.no_latency:
        if opts.latency_rate:
            rates = [opts.latency_rate]
        else:
            rates = [int(float(f) * results["roo"]["rate"]["median"]) for f in opts.latency_load.split(",")]
        timed = [("roo", lambda i, o: [opts.roo, "run", TIMED_APP, "--in", "Alphabet@127.0.0.1:%d" % i,
                                       "--out", "127.0.0.1:%d" % o])]
        if not opts.no_asyncio:
            timed.append(("asyncio", lambda i, o: [sys.executable, ASYNCIO_SERVER, "--app", TIMED_APP,
                                                   "--in", "127.0.0.1:%d" % i, "--out", "127.0.0.1:%d" % o]))
        results["latency"] = []
        for rate in rates:
            for label, argv_for in timed:
                say("latency, %s: %s events/s offered for %.1f s" % (label, fmt_rate(rate), opts.latency_seconds))
                lat = latency_run(opts, records, rate, label, argv_for)
                say("  p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us; Python thread runnable-waiting "
                    "%.1f %%, %d preemptions, load %.1f" % (
                        lat["p50_us"], lat["p99_us"], lat["p999_us"], lat["max_us"],
                        100 * lat["main_runqueue_share"], lat["main_preemptions"], lat["loadavg_1min"]))
                lat["server"] = label
                results["latency"].append(lat)

    results["elapsed_s"] = time.monotonic() - began
    text = render(results)
    with open(os.path.join(OUT, "alphabet_one_worker.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(OUT, "alphabet_one_worker.md"), "w") as f:
        f.write(text)
    print(text)
    say("(%.0f s; results in bench/out/alphabet_one_worker.{md,json})" % results["elapsed_s"])
    if opts.update_docs:
        update_docs(text)
        say("docs/benchmarks.md updated")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print("bench: %s" % error, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        cleanup_children()
