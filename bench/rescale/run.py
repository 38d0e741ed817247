#!/usr/bin/python3
"""Growing a running cluster from 1 to 2 workers: the stream's pause, and the throughput before and after.

Run from anywhere (see bench/README.md, "Rescale"):

    /usr/bin/python3 bench/rescale/run.py                 # table: 10k and 1M keys, 3 runs each, ~5 min
    /usr/bin/python3 bench/rescale/run.py --quick         # 10k keys, 1 run, a smaller throughput input
    /usr/bin/python3 bench/rescale/run.py --json          # one JSON object on stdout

The app, bench/rescale/apps/key_count.py, counts events per key (one int of state per key) and writes one line
`<key> <count>` per event. Every worker is `roo run APP` with the cluster flags of docs/cluster.md: the initializer
`--cluster-initializer --worker-count W --control C --data D`, a worker of the formation `--control C`, a joiner
`--join C` (each with --name, --my-control, --my-data, --external). All input goes to the initializer's TCP source;
every worker's sink writes to one receiver.

1. Pause, per key count K (--keys, default 10,000 and 1,000,000), --runs times (default 3). A 1-worker cluster;
   K events, one per key (keys "0" .. "K-1"), sent at full speed, and the K outputs awaited: K keys of state. Then a
   paced sender (a child process) sends --rate events a second (default 1,000, one a millisecond; event i is key
   i * 1000003 mod K) and a receiver (a child process, one thread, gc off) stamps every read with the wall clock.
   After --before seconds (default 2) a joiner starts with --join; the initializer logs `cluster: rescale 1 begins`
   and `cluster: rescale 1 done in X ms` (X: the cluster's own figure, round start to resume). --after seconds
   (default 2) after `done`, the sender stops. Gaps are the times between consecutive output lines' arrivals (both
   sink connections merged; lines of one read share its stamp). Reported: the longest gap whose later line arrives
   between the joiner's start and done + --after (the pause the stream's consumer sees), p50 and p99 of the gaps in
   that window, the same for the --before seconds before the join (the steady stream), and X. The logs' own times
   (spdlog, local wall clock, ms) place `begins` and `done` on the receiver's clock.
   Checks: every output line of the paced events is exactly `<key> <count>` with the count that key must have (K
   keys preloaded once, then each paced event +1: a key whose state was lost or counted twice in the migration is
   caught), each key's counts arrive in order, nothing more or less arrives, and both workers exit 0 after SIGTERM
   with 0 events failed and 0 not delivered, their `events in` and `outputs written` adding up to K + the paced
   events. --checkpoints: the same with checkpoints on (every worker --checkpoint-dir, a fresh folder per run,
   --checkpoint-interval 1s).
2. Throughput, --runs rounds of (a) a cluster started with 1 worker, (b) one started with 2 (initializer + a
   --control worker), (c) one started with 1 and grown to 2 (a joiner, then `rescale 1 done` awaited), interleaved.
   Input: --events events (default 4,000,000) over 10,000 keys, `roo send --binary --variable-size --batch-size
   10000 --interval 0` to the initializer's source only (so b and c differ only in how worker1 came); `roo receive
   --expect N --stats` gives events/s = N / (first -> last output byte). Checks: exactly N outputs, exit 0 after
   SIGTERM, the `stopped:` lines add up to N events in and N outputs, 0 failed. Reported: events/s median (min, max),
   CPU seconds per million events summed over the workers (/proc/PID/stat, from the send to the last output),
   worker1's share of the outputs, and c / b (a grown cluster must run like one started at that size) and b / a.
"""
import argparse
import collections
import datetime
import gc
import json
import os
import re
import select
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import alphabet_one_worker as A  # noqa: E402  (loadavg, percentile, summarise, LineReader, READY)
import processes  # noqa: E402
from processes import BenchError, commit_of, free_port, spawn, tail, wait_for_text  # noqa: E402

OUT = os.path.join(BENCH, "out", "rescale")
APP = os.path.join(HERE, "apps", "key_count.py")
DEFAULT_ROO = os.path.join(REPO, "build", "src", "cli", "roo")
SOURCE = "Src"
STEP = 1000003        # prime: i -> i * STEP mod K walks every key before repeating one, for K < STEP
TPUT_KEYS = 10000
LOG_TIME = r"(?m)^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) .*"
BEGINS = re.compile(LOG_TIME + r"cluster: rescale 1 begins")
DONE = re.compile(LOG_TIME + r"cluster: rescale 1 done in (\d+) ms: (\d+) workers, (\d+) key groups moved")
HANDED = re.compile(r"rescale 1: handed (\d+) keys in (\d+) key groups to (\d+) workers \(([\d.]+) (B|KiB|MiB|GiB), "
                    r"([\d.]+) ms\)")
STOPPED = re.compile(r"stopped: (\d+) events in, (\d+) outputs written, (\d+) events failed, "
                     r"(\d+) events not delivered")
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}
CASES = [("a", "1 worker", 1, False), ("b", "2 workers from the start", 2, False),
         ("c", "1 worker grown to 2 (--join)", 2, True)]


def say(text):
    print(text, file=sys.stderr, flush=True)


def frames(keys):
    """`u32 BE length | key` for each key (bytes)."""
    pack = struct.Struct(">I").pack
    return b"".join(pack(len(k)) + k for k in keys)


def paced_key(i, keys):
    return b"%d" % (i * STEP % keys)


def log_time(stamp):
    """A log line's time (spdlog's local wall clock) as time.time() seconds."""
    return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()


# ---------------------------------------------------------------- child roles: the stamping receiver, the sender

def receiver_role(skip):
    """--role receiver: accepts any number of connections and reads them in one thread. The first `skip` lines are
    only counted (`skipped NS` is printed when they are in); every later line is kept with the wall clock (ns) of
    the read that brought it. Stdin: `expect N` ends it once N lines after the skipped ones are in; end of file ends
    it at once. Then one JSON object: {"rows": [[ns, connection, line], ...], "skipped": n, "trailing_bytes": n}."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    print("listening %d" % listener.getsockname()[1], flush=True)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(0, selectors.EVENT_READ, "control")
    gc.disable()  # no collection pause between two reads
    now = time.time_ns
    counted, rows, carry, expect, announced, control = 0, [], [], None, False, b""
    while expect is None or counted - skip < expect:
        for key, _ in sel.select(timeout=1.0):
            if key.data == "accept":
                conn, _ = listener.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, len(carry))
                carry.append(b"")
                continue
            if key.data == "control":
                data = os.read(0, 4096)
                if not data:
                    expect = -1
                    break
                control += data
                m = re.search(rb"expect (\d+)\n", control)
                if m:
                    expect = int(m.group(1))
                continue
            chunk = key.fileobj.recv(1 << 18)
            t = now()
            if not chunk:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                continue
            c = key.data
            buf = carry[c] + chunk
            end = buf.rfind(b"\n") + 1
            carry[c] = buf[end:]
            lines = buf.count(b"\n", 0, end)
            if counted + lines > skip:
                start = max(0, skip - counted)
                rows.extend([t, c, line.decode()] for line in buf[:end].split(b"\n")[start:lines])
            counted += lines
            if counted >= skip and not announced:
                announced = True
                print("skipped %d" % t, flush=True)
        if expect == -1:
            break
    print(json.dumps({"rows": rows, "skipped": min(counted, skip), "trailing_bytes": sum(len(c) for c in carry)}),
          flush=True)


def sender_role(port, keys, rate):
    """--role sender: sends event i (key i * STEP mod `keys`) at start + i / rate, until a line or end of file on
    stdin; then prints {"sent": n}. Steady, not catching up in bursts beyond what fell due."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    gc.disable()
    print("sending", flush=True)
    clock = time.monotonic
    start = clock()
    sent = 0
    while True:
        due = int((clock() - start) * rate)
        if due > sent:
            sock.sendall(frames(paced_key(i, keys) for i in range(sent, due)))
            sent = due
        wait = max(0.0, start + (sent + 1) / rate - clock())
        if select.select([0], [], [], wait)[0]:
            break
    print(json.dumps({"sent": sent}), flush=True)


# ---------------------------------------------------------------- the workers

class Member:
    """One `roo run APP` worker with its own free ports, its output in a log file."""

    def __init__(self, opts, tag, name, out_port, role, worker_count=1, initializer=None):
        self.name = name
        self.control = "127.0.0.1:%d" % free_port()
        self.in_port = free_port()
        argv = [opts.roo, "run"]
        if opts.checkpoints:  # every worker of one run shares a folder (each has its own part in it)
            folder = os.path.join(OUT, "checkpoints-%s" % tag)
            if role == "initializer":  # started first: nothing of an earlier invocation is recovered
                shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder, exist_ok=True)
            argv += ["--checkpoint-dir", folder, "--checkpoint-interval", "1s"]
        argv += [APP, "--in", "%s@127.0.0.1:%d" % (SOURCE, self.in_port), "--out", "127.0.0.1:%d" % out_port]
        data = "127.0.0.1:%d" % free_port()
        if role == "initializer":
            argv += ["--cluster-initializer", "--worker-count", str(worker_count), "--control", self.control,
                     "--data", data]
        else:
            argv += ["--join" if role == "joiner" else "--control", initializer.control, "--my-control",
                     self.control, "--my-data", data, "--name", name]
        argv += ["--external", "127.0.0.1:%d" % free_port()]
        self.log = os.path.join(OUT, "%s-%s.log" % (tag, name))
        self.started = time.time()
        with open(self.log, "w") as log:
            self.proc = spawn(argv, stdout=log, stderr=subprocess.STDOUT, cwd=OUT)

    def wait_for(self, pattern, timeout, what=None):
        return wait_for_text(self.log, pattern, self.proc, timeout, "%s (%s)" % (self.name, what or pattern))

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def stop_cluster(members, tag):
    """SIGTERM to the last member stops the cluster; every member must exit 0 with a `stopped:` line and no failed or
    undelivered event. Returns [(events in, outputs written)] in member order."""
    members[-1].proc.send_signal(signal.SIGTERM)
    counts = []
    for m in members:
        try:
            code = m.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            raise BenchError("%s: %s did not exit within 120 s of the SIGTERM; log %s ends:\n%s"
                             % (tag, m.name, m.log, tail(m.log)))
        found = STOPPED.findall(m.text())
        if code != 0 or not found or found[-1][2:] != ("0", "0"):
            raise BenchError("%s: %s exited %s after SIGTERM (%s); log %s ends:\n%s"
                             % (tag, m.name, code, found[-1] if found else "no stopped: line", m.log, tail(m.log)))
        counts.append((int(found[-1][0]), int(found[-1][1])))
    return counts


def start_cluster(opts, tag, out_port, workers, grow):
    """A started cluster of `workers` (initializer first); with `grow`, formed with 1 and grown by joiners, each
    join's rescale done. Returns the members once every one is ready."""
    initializer = Member(opts, tag, "initializer", out_port, "initializer", 1 if grow else workers)
    members = [initializer]
    for w in range(1, workers):
        members.append(Member(opts, tag, "worker%d" % w, out_port, "joiner" if grow else "worker",
                              initializer=initializer))
    for m in members:
        m.wait_for(re.escape(A.READY), 60, "ready")
    if grow:
        initializer.wait_for(r"cluster: rescale %d done in" % (workers - 1), 60)
    return members


# ---------------------------------------------------------------- 1. the pause

class Child:
    """A --role child of this script: stdin and stdout pipes, stderr to a log, stdout read line by line."""

    def __init__(self, tag, role, *args):
        self.log = os.path.join(OUT, "%s-%s.log" % (tag, role))
        with open(self.log, "w") as log:
            self.proc = spawn([sys.executable, os.path.abspath(__file__), "--role", role] + [str(a) for a in args],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, bufsize=0)
        self.lines = A.LineReader(self.proc, "the %s" % role, self.log)

    def expect_line(self, prefix, timeout, other_log=None):
        line = self.lines.read_line(timeout, other_log)
        if not line.startswith(prefix):
            raise BenchError("%s: %r, want %r...; its log ends:\n%s" % (self.lines.what, line, prefix, tail(self.log)))
        return line[len(prefix):].strip()

    def tell(self, text):
        self.proc.stdin.write(text.encode())

    def finish(self, timeout, other_log=None):
        """Its last line, parsed as JSON (it prints one when told to end)."""
        return json.loads(self.lines.read_line(timeout, other_log))


def gaps_ending_in(rows, start_ns, end_ns):
    """[(gap ns, its later line's index)] of consecutive rows whose later one arrived in [start_ns, end_ns]."""
    return [(rows[j][0] - rows[j - 1][0], j) for j in range(1, len(rows)) if start_ns <= rows[j][0] <= end_ns]


def spread_ms(gaps):
    pairs = sorted((g / 1e6, 1) for g, _ in gaps)
    if not pairs:
        raise BenchError("no output in a measured window")
    return {"p50": A.percentile(pairs, len(pairs), 0.5), "p99": A.percentile(pairs, len(pairs), 0.99),
            "max": pairs[-1][0], "outputs": len(pairs)}


def check_paced(rows, sent, keys):
    """Problems with the paced events' outputs: each key's counts must be 2, 3, ... in order, one per event sent."""
    want = collections.Counter(paced_key(i, keys) for i in range(sent))
    got = collections.defaultdict(list)
    for _, _, line in rows:
        key, _, count = line.partition(" ")
        got[key.encode()].append(int(count) if count.isdigit() else line)
    problems = []
    for key in sorted(set(want) | set(got)):
        counts = got.get(key, [])
        if counts != list(range(2, 2 + want[key])):
            problems.append("key %s: counts %s, want 2..%d in order" % (key.decode(), counts[:6], 1 + want[key]))
    return problems


def pause_run(opts, keys, index):
    tag = "pause-%d-%d" % (keys, index)
    rx = Child(tag, "receiver", "--skip", keys)
    out_port = int(rx.expect_line("listening ", 10))
    initializer = Member(opts, tag, "initializer", out_port, "initializer")
    initializer.wait_for(re.escape(A.READY), 60, "ready")
    load = A.loadavg()
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", initializer.in_port)) as s:
        s.sendall(frames(b"%d" % k for k in range(keys)))
    rx.expect_line("skipped ", 60 + keys / 5000, initializer.log)
    preload_s = time.time() - t0
    sender = Child(tag, "sender", "--port", initializer.in_port, "--keys", keys, "--rate", opts.rate)
    sender.expect_line("sending", 10)
    time.sleep(opts.before)
    joined = time.time()
    joiner = Member(opts, tag, "worker1", out_port, "joiner", initializer=initializer)
    done = initializer.wait_for(DONE.pattern, 60 + keys / 10000, "rescale 1 done")
    done_at = log_time(done.group(1))
    if abs(done_at - time.time()) > 5:
        raise BenchError("%s: the log's clock (%s) is not this machine's local time" % (tag, done.group(1)))
    time.sleep(max(0.0, done_at + opts.after + 0.2 - time.time()))
    sender.tell("stop\n")
    sent = sender.finish(10)["sent"]
    rx.tell("expect %d\n" % sent)
    got = rx.finish(60, initializer.log)
    counts = stop_cluster([initializer, joiner], tag)

    rows = got["rows"]
    problems = check_paced(rows, sent, keys)
    if len(rows) != sent or got["skipped"] != keys or got["trailing_bytes"]:
        problems.insert(0, "%d preload and %d paced outputs (and %d bytes of a line), want %d and %d"
                        % (got["skipped"], len(rows), got["trailing_bytes"], keys, sent))
    if [sum(c[0] for c in counts), sum(c[1] for c in counts)] != [keys + sent, keys + sent]:
        problems.append("the workers' (events in, outputs written) are %s, want %d of each in all" % (counts,
                                                                                                    keys + sent))
    if problems:
        raise BenchError("%s: %s\nlogs: %s, %s" % (tag, "; ".join(problems[:6]), initializer.log, joiner.log))
    text = initializer.text()
    begins_at = log_time(BEGINS.search(text).group(1))
    handed = HANDED.search(text)
    ns = 1e9
    window = gaps_ending_in(rows, int(joined * ns), int((done_at + opts.after) * ns))
    gap, j = max(window)
    result = {
        "keys": keys, "loadavg_1min": load, "preload_s": preload_s, "paced_events": sent,
        "rescale_ms": int(done.group(2)), "begins_to_done_ms": (done_at - begins_at) * 1000,
        "join_to_begins_ms": (begins_at - joined) * 1000, "groups_moved": int(done.group(4)),
        "keys_moved": int(handed.group(1)), "bytes_moved": float(handed.group(4)) * UNITS[handed.group(5)],
        "handover_ms": float(handed.group(6)),
        "pause_ms": gap / 1e6,
        # where the longest gap lies: its first line after `begins`, its last before `done` (ms; negative: before)
        "pause_from_begins_ms": rows[j - 1][0] / 1e6 - begins_at * 1000,
        "pause_to_done_ms": rows[j][0] / 1e6 - done_at * 1000,
        "window": spread_ms(window),
        "before": spread_ms(gaps_ending_in(rows, int((joined - opts.before) * ns), int(joined * ns))),
        "joiner_outputs": counts[1][1],
        "logs": [os.path.relpath(m.log, REPO) for m in (initializer, joiner)],
    }
    say("  %s keys, run %d: pause %.1f ms (rescale done in %d ms, %s keys moved), gaps join..done+%gs p50 %.2f p99 "
        "%.2f ms, before p99 %.2f ms, load %.1f" % (
            "{:,}".format(keys), index + 1, result["pause_ms"], result["rescale_ms"],
            "{:,}".format(result["keys_moved"]), opts.after, result["window"]["p50"], result["window"]["p99"],
            result["before"]["p99"], load))
    return result


# ---------------------------------------------------------------- 2. throughput

def make_input(n):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "events_%d.msg" % n)
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as f:
            f.write(frames(b"%d" % (i * STEP % TPUT_KEYS) for i in range(n)))
        os.replace(path + ".tmp", path)
    return path


def throughput_run(opts, case, index, path):
    case_id, _, workers, grow = case
    tag = "tput-%s-%d" % (case_id, index)
    n = opts.events
    rx_log = os.path.join(OUT, "%s-receive.log" % tag)
    with open(rx_log, "w") as rx_err:
        rx = spawn([opts.roo, "receive", "--listen", "127.0.0.1:0", "--expect", str(n), "--stats", "--no-write"],
                   stdout=subprocess.DEVNULL, stderr=rx_err)
    out_port = int(wait_for_text(rx_log, r"Listening on [^:]+:(\d+)", rx, 10, "roo receive").group(1))
    members = start_cluster(opts, tag, out_port, workers, grow)
    load = A.loadavg()
    cpu0 = [A.cpu_seconds(m.proc.pid) for m in members]
    send = subprocess.run([opts.roo, "send", "--host", "127.0.0.1:%d" % members[0].in_port, "--file", path,
                           "--binary", "--variable-size", "--batch-size", "10000", "--interval", "0", "--no-write"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300, cwd=OUT)
    try:
        rx.wait(timeout=300)
    except subprocess.TimeoutExpired:
        raise BenchError("%s: the receiver did not get %d outputs within 300 s; the initializer's log ends:\n%s"
                         % (tag, n, tail(members[0].log)))
    cpu = sum(A.cpu_seconds(m.proc.pid) - before for m, before in zip(members, cpu0))
    counts = stop_cluster(members, tag)
    with open(rx_log) as f:
        stats = re.search(r"received (\d+) messages \((\d+) bytes\) in ([\d.]+) s", f.read())
    problems = []
    if send.returncode != 0:
        problems.append("roo send exited %d: %s" % (send.returncode, send.stderr.strip()))
    if rx.returncode != 0 or not stats or int(stats.group(1)) != n:
        problems.append("roo receive exited %s, stats %r" % (rx.returncode, stats and stats.group(0)))
    if [sum(c[0] for c in counts), sum(c[1] for c in counts)] != [n, n]:
        problems.append("the workers' (events in, outputs written) are %s, want %d of each in all" % (counts, n))
    if problems:
        raise BenchError("%s: %s; logs %s" % (tag, "; ".join(problems), ", ".join(m.log for m in members)))
    rate = n / float(stats.group(3))
    share = counts[1][1] / n if workers > 1 else 0.0
    cpu_per_m = cpu / n * 1e6
    say("  %s (%s), run %d: %s events/s, %.2f CPU s / M events, worker1 wrote %.1f %% of the outputs, load %.1f"
        % (case_id, case[1], index + 1, "{:,.0f}".format(rate), cpu_per_m, share * 100, load))
    return {"rate": rate, "cpu_s_per_m": cpu_per_m, "worker1_share": share, "loadavg_1min": load}


# ---------------------------------------------------------------- report

def median_range(values, fmt):
    s = A.summarise(values)
    return ("%s (%s–%s)" % (fmt, fmt, fmt)) % (s["median"], s["min"], s["max"])


def render(report):
    lines = ["Growing a running cluster 1 → 2 workers (`bench/rescale/run.py`), app "
             "`bench/rescale/apps/key_count.py`. Measured %s on %d cores; roo %s; 1-minute load average %s at the "
             "runs' starts."
             % (report["date"], report["cpus"], report["commit"],
                ", ".join("%.1f" % x for x in report["loadavg_runs"]))]
    if report["pause"]:
        lines += ["",
                  "Pause: %d paced events/s to the initializer; a joiner starts after %g s. Median (min–max) over "
                  "%d runs per row; gaps = time between consecutive output lines at the receiver (ms)."
                  % (report["rate"], report["before"], report["runs"]),
                  "",
                  "| keys of state | longest output gap = the pause (ms) | rescale `done in` (ms) | gaps join → "
                  "done + %g s: p50 (ms) | p99 | gaps in the %g s before: p99 | max | keys moved | state moved |"
                  % (report["after"], report["before"]),
                  "|---|---|---|---|---|---|---|---|---|"]
        for keys, runs in report["pause"].items():
            lines.append("| %s | **%s** | %s | %s | %s | %s | %s | %s | %s |" % (
                "{:,}".format(int(keys)), median_range([r["pause_ms"] for r in runs], "%.0f"),
                median_range([r["rescale_ms"] for r in runs], "%.0f"),
                median_range([r["window"]["p50"] for r in runs], "%.2f"),
                median_range([r["window"]["p99"] for r in runs], "%.1f"),
                median_range([r["before"]["p99"] for r in runs], "%.2f"),
                median_range([r["before"]["max"] for r in runs], "%.1f"),
                "{:,.0f}".format(statistics.median(r["keys_moved"] for r in runs)),
                "%.1f MiB" % (statistics.median(r["bytes_moved"] for r in runs) / 1024 ** 2)))
        lines.append("")
        lines.append("Per run: " + "; ".join(
            "%s keys: pause %.0f ms, from %+.1f ms after `begins` to %+.1f ms after `done`, handover %.0f ms, "
            "join → begins %.0f ms, preload %.2f s" % (
                "{:,}".format(r["keys"]), r["pause_ms"], r["pause_from_begins_ms"], r["pause_to_done_ms"],
                r["handover_ms"], r["join_to_begins_ms"], r["preload_s"])
            for runs in report["pause"].values() for r in runs) + ".")
    if report["throughput"]:
        t = report["throughput"]
        lines += ["",
                  "Throughput: %s events over %s keys, all sent to the initializer; %d runs per case, interleaved."
                  % ("{:,}".format(report["events"]), "{:,}".format(TPUT_KEYS), report["runs"]),
                  "",
                  "| case | events/s median | min | max | CPU s / M events, all workers: median (min–max) | "
                  "worker1's share of the outputs |",
                  "|---|---|---|---|---|---|"]
        for case_id, label, workers, _ in CASES:
            res = t["cases"][case_id]
            lines.append("| %s %s | **%s** | %s | %s | %s | %s |" % (
                case_id, label, "{:,.0f}".format(res["rate"]["median"]), "{:,.0f}".format(res["rate"]["min"]),
                "{:,.0f}".format(res["rate"]["max"]), median_range([r["cpu_s_per_m"] for r in res["all"]], "%.2f"),
                "%.1f %%" % (res["worker1_share"] * 100) if workers > 1 else "–"))
        lines += ["", "c / b = **%.3f** (a grown cluster against one started with 2; target ≈ 1), b / a = %.3f; "
                  "CPU per event c / b = %.3f. Throughput is N / (first → last output byte) at `roo receive`; the "
                  "sender, the receiver and the workers share the cores, and both figures move with the machine's "
                  "load."
                  % (t["c_over_b"], t["b_over_a"], t["cpu_c_over_b"])]
    lines += ["", "Wall time %.0f s." % report["seconds"]]
    return "\n".join(lines)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--quick", action="store_true", help="10,000 keys, 1 run, 200,000 throughput events")
    p.add_argument("--keys", default="10000,1000000", help="key counts of the pause runs (default 10000,1000000)")
    p.add_argument("--runs", type=int, default=3, help="runs per key count and per throughput case (default 3)")
    p.add_argument("--rate", type=int, default=1000, help="paced events/s during the pause runs (default 1000)")
    p.add_argument("--before", type=float, default=2.0, help="seconds of paced load before the join (default 2)")
    p.add_argument("--after", type=float, default=2.0, help="seconds measured after `done` (default 2)")
    p.add_argument("--events", type=int, default=4000000,
                   help="events per throughput run (default 4,000,000: a run of 1M lasts about a second, too short "
                        "to compare on a shared machine)")
    p.add_argument("--checkpoints", action="store_true",
                   help="every worker with --checkpoint-dir (a fresh folder per run) --checkpoint-interval 1s")
    p.add_argument("--no-pause", action="store_true", help="skip the pause runs")
    p.add_argument("--no-throughput", action="store_true", help="skip the throughput runs")
    p.add_argument("--roo", default=DEFAULT_ROO, help="the roo binary (default build/src/cli/roo)")
    p.add_argument("--role", choices=["receiver", "sender"], help=argparse.SUPPRESS)
    p.add_argument("--skip", type=int, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    opts = p.parse_args()
    if opts.quick:
        opts.keys, opts.runs, opts.events = "10000", 1, 200000
    try:
        opts.key_counts = [int(k) for k in opts.keys.split(",")]
    except ValueError:
        p.error("--keys: want comma-separated integers, e.g. 10000,1000000")
    if any(k < 1 or k >= STEP for k in opts.key_counts):
        p.error("--keys: each must be between 1 and %d" % (STEP - 1))
    return opts


def main():
    opts = parse_args()
    if opts.role == "receiver":
        return receiver_role(opts.skip)
    if opts.role == "sender":
        return sender_role(opts.port, opts.key_counts[0], opts.rate)
    if not os.access(opts.roo, os.X_OK):
        raise BenchError("no roo binary at %s; build it with: cmake --build %s -j2 --target roo"
                         % (opts.roo, os.path.join(REPO, "build")))
    opts.roo = os.path.abspath(opts.roo)
    os.makedirs(OUT, exist_ok=True)
    began = time.monotonic()
    report = {"benchmark": "rescale 1 -> 2 workers", "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
              "commit": commit_of(), "roo": opts.roo, "cpus": os.cpu_count(), "runs": opts.runs, "rate": opts.rate,
              "before": opts.before, "after": opts.after, "events": opts.events, "pause": {}, "throughput": None,
              "loadavg_runs": []}
    if not opts.no_pause:
        for keys in opts.key_counts:
            say("pause: %s keys, %d runs ..." % ("{:,}".format(keys), opts.runs))
            runs = [pause_run(opts, keys, i) for i in range(opts.runs)]
            report["pause"][str(keys)] = runs
            report["loadavg_runs"] += [r["loadavg_1min"] for r in runs]
    if not opts.no_throughput:
        say("throughput: %s events, cases a, b, c, %d runs ..." % ("{:,}".format(opts.events), opts.runs))
        path = make_input(opts.events)
        results = {c[0]: [] for c in CASES}
        for index in range(opts.runs):  # interleaved: a change in the machine's load hits every case alike
            for case in CASES:
                results[case[0]].append(throughput_run(opts, case, index, path))
        cases = {case_id: {"rate": A.summarise([r["rate"] for r in runs]), "all": runs,
                           "cpu_s_per_m": A.summarise([r["cpu_s_per_m"] for r in runs]),
                           "worker1_share": statistics.median(r["worker1_share"] for r in runs)}
                 for case_id, runs in results.items()}
        report["throughput"] = {"cases": cases,
                                "c_over_b": cases["c"]["rate"]["median"] / cases["b"]["rate"]["median"],
                                "b_over_a": cases["b"]["rate"]["median"] / cases["a"]["rate"]["median"],
                                "cpu_c_over_b": cases["c"]["cpu_s_per_m"]["median"] /
                                cases["b"]["cpu_s_per_m"]["median"]}
        report["loadavg_runs"] += [r["loadavg_1min"] for runs in results.values() for r in runs]
    report["seconds"] = time.monotonic() - began
    if opts.json:
        print(json.dumps(report, indent=1, sort_keys=True))
    else:
        print(render(report))


if __name__ == "__main__":
    processes.run_main(main, "bench/rescale/run.py")
