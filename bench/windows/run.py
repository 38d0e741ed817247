#!/usr/bin/python3
"""Windows (issue 11): Roo's event-time windows against Bytewax's windowing operators and a bare Python loop.

    /usr/bin/python3 bench/windows/run.py          # ~8 min: prints the table, rewrites docs/benchmarks.md's block
    /usr/bin/python3 bench/windows/run.py --quick  # ~2 min: 200,000 events, 2 runs, 3 s latency rows

Everything in this one invocation, on this machine (bench/README.md, "Windows"):

1. Data (bench/windows/data.py): N events (default 1,000,000), 1,000 keys, event times 0.5 ms apart from
   2026-01-01 00:00 UTC carried in the events; every key has an event in every second. The expected windows are
   computed independently: per key a 1 s tumbling count (`c`) and a 10 s / 1 s sliding sum of the values (`s`),
   for every window that holds an event; the data fires those ending at or before the last event time.
2. Throughput, --runs rounds, each running every system once on the same frames file, same logic
   (bench/windows/logic.py), each run's output checked against the expected windows (every window the data fires,
   once, exact value; nothing else but later windows with right values) before its figure counts:
   - ceiling (bench/windows/ceiling.py, /usr/bin/python3): one loop over the payloads read from the file first, a
     dict of one-second panes per key, firing on watermark = the largest event time seen, every step through the
     user's functions as Roo calls them (decode, event_time, key_of, the aggregations' initial_accumulator, update,
     combine over a window's panes, output, encode_output); events / CPU seconds of the loop. The same with the
     logic written inline (`ceiling_inline`: no user function but decode and the line encoding) for reference;
   - Bytewax 1 worker (bench/windows/bytewax_windows.py in bench/out/venv-bytewax): count_window over a
     TumblingWindower and fold_window over a SlidingWindower, EventClock(wait_for_system_duration=0); events /
     seconds inside run_main (it reads the file itself);
   - Roo 1 worker (bench/windows/app.py): two TCP sources (one per aggregation), `with_event_time`, `key_by`,
     `range_windows(...).over(...)`, one TCP sink to `roo receive --expect M`; the file is replayed to both
     sources by two `roo send` at full speed; events / (the senders' first write -> the M-th output arrived).
3. Latency (Roo): a paced sender (1 ms ticks) offers each of --latency-loads x Roo's median rate (default 10 % and
   50 %; or --latency-rate) for --latency-seconds, every event stamped with the wall clock (CLOCK_REALTIME ns) as
   its event time, keys in turn; a receiver stamps every output line's arrival (CLOCK_REALTIME). Window end E is
   passed by the watermark when the first event stamped >= E is sent; latency = arrival - that send time (delay 0),
   over every output of a window that ends after the warm-up and that the data fires. The run's outputs are checked
   like the throughput runs'.
A roo whose runtime cannot run the app (no event-time windows yet) makes the Roo rows "not available" with its line.
"""
import argparse
import bisect
import datetime
import gc
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
sys.path.insert(0, HERE)
sys.path.insert(0, BENCH)
# bench/suite.py loads this file to render its JSON after importing the workloads' own `data` and `logic`
# modules: this benchmark's siblings of the same names must not be taken for them.
for _name in ("data", "logic"):
    if getattr(sys.modules.get(_name), "__file__", "") and os.path.dirname(sys.modules[_name].__file__) != HERE:
        del sys.modules[_name]
import alphabet_one_worker as A  # noqa: E402  (loadavg, summarise, /proc readers, percentile, LineReader, READY)
import data  # noqa: E402
import logic  # noqa: E402
import suite  # noqa: E402  (ensure_bytewax, VENV_PY)
from processes import BenchError, cleanup_children, commit_of, free_port, spawn, tail, wait_for_text  # noqa: E402

OUT = os.path.join(BENCH, "out", "windows")
APP = os.path.join(HERE, "app.py")
DOCS = os.path.join(REPO, "docs", "benchmarks.md")
DOCS_BEGIN = ("<!-- bench/windows results: begin (written by bench/windows/run.py; edit the text around it, "
              "not inside) -->")
DOCS_END = "<!-- bench/windows results: end -->"
SYSTEMS = ("ceiling", "ceiling_inline", "bytewax", "roo1")
NAMES = {"ceiling": "ceiling: the user functions in a Python loop (/usr/bin/python3, CPU time)",
         "ceiling_inline": "the same logic written inline in the loop, no user functions (CPU time)",
         "bytewax": "Bytewax, 1 worker (count_window + fold_window)", "roo1": "Roo, 1 worker"}
say = A.say if hasattr(A, "say") else (lambda text: print(text, file=sys.stderr, flush=True))


def fmt(x):
    return "-" if x is None else "{:,.0f}".format(x)


# ---------------------------------------------------------------- throughput runs

def ceiling_run(opts, path, want, wm, tag, loop):
    out_path = os.path.join(OUT, "run-%s.out" % tag)
    load = A.loadavg()
    done = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "ceiling.py"), "--input", path, "--out", out_path,
                           "--loop", loop],
                          capture_output=True, text=True, timeout=opts.run_timeout * 4)
    if done.returncode != 0:
        return {"invalid": "ceiling.py exited %d: %s" % (done.returncode, done.stderr.strip()[-500:])}
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return finish(out_path, want, wm, {"rate": got["events"] / got["cpu_seconds"], "seconds": got["seconds"],
                                       "cpu_s_per_m": got["cpu_seconds"] / got["events"] * 1e6,
                                       "loadavg_1min": load})


def bytewax_run(opts, path, n, want, wm, tag):
    out_path = os.path.join(OUT, "run-%s.out" % tag)
    load = A.loadavg()
    done = subprocess.run([suite.VENV_PY, os.path.join(HERE, "bytewax_windows.py"), "--input", path,
                           "--out", out_path], capture_output=True, text=True, timeout=opts.run_timeout * 10)
    if done.returncode != 0:
        return {"invalid": "bytewax exited %d: %s" % (done.returncode, done.stderr.strip()[-500:])}
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return finish(out_path, want, wm, {"rate": n / got["seconds"], "seconds": got["seconds"],
                                       "cpu_s_per_m": got["cpu_seconds"] / n * 1e6,
                                       "rss_peak_mib": got["max_rss_mib"], "loadavg_1min": load,
                                       "bytewax_version": got["bytewax_version"]})


def finish(out_path, want, wm, result):
    with open(out_path, "rb") as f:
        wrong = data.check(f.read(), want, wm)
    if wrong:
        result["invalid"] = "output check: %s (output kept: %s)" % (wrong, os.path.relpath(out_path, REPO))
    else:
        os.remove(out_path)
    return result


def start_roo(opts, tag, out_port):
    """A Roo worker running the app (two TCP sources) -> (process, [counts port, sums port], log path); raises
    Unavailable when it refuses the app."""
    log = os.path.join(OUT, "run-%s-worker.log" % tag)
    ports = [free_port(), free_port()]
    argv = [opts.roo, "run", APP, "--in", "Counts@127.0.0.1:%d,Sums@127.0.0.1:%d" % tuple(ports),
            "--out", "127.0.0.1:%d" % out_port]
    with open(log, "w") as err:
        proc = spawn(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
    try:
        wait_for_text(log, re.escape(A.READY), proc, 60, "roo run bench/windows/app.py")
    except BenchError:
        if proc.poll() is not None:  # it refused the app: a roo without event-time windows
            raise Unavailable(tail(log, 4).strip().splitlines()[-1] if tail(log, 4).strip() else "exit %s" %
                              proc.returncode)
        raise
    return proc, ports, log


class Unavailable(Exception):
    pass


def stop(proc, timeout=30):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return "killed after %d s" % timeout
    return proc.returncode


def roo_run(opts, path, n, want, wm, tag):
    m = data.fired(want, wm)
    rx_log = os.path.join(OUT, "run-%s-receive.log" % tag)
    out_path = os.path.join(OUT, "run-%s.out" % tag)
    with open(rx_log, "w") as rx_err, open(out_path, "wb") as rx_out:
        rx = spawn([opts.roo, "receive", "--listen", "127.0.0.1:0", "--expect", str(m), "--stats"], stdout=rx_out,
                   stderr=rx_err)
    out_port = int(wait_for_text(rx_log, r"Listening on [^:]+:(\d+)", rx, 10, "roo receive").group(1))
    server, ports, w_log = start_roo(opts, tag, out_port)
    load = A.loadavg()
    cpu0 = A.cpu_seconds(server.pid)
    t0 = time.monotonic()
    senders = [spawn([opts.roo, "send", "--host", "127.0.0.1:%d" % port, "--file", path, "--binary", "--msg-size",
                      str(data.FRAME.size), "--batch-size", "10000", "--interval", "0", "--no-write",
                      "--report-start"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=OUT)
               for port in ports]
    problems = []
    try:
        rx.wait(timeout=opts.run_timeout)
    except subprocess.TimeoutExpired:
        problems.append("the receiver did not get %d outputs within %d s" % (m, opts.run_timeout))
    t1 = time.monotonic()
    cpu1 = A.cpu_seconds(server.pid)
    hwm = A.vm_hwm_kib(server.pid) / 1024
    first_write = float("inf")
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
            first_write = min(first_write, float(started.group(1)))
    code = stop(server)
    stop(rx, 10)
    if code != 0:
        problems.append("the worker exited %s after SIGTERM" % code)
    if first_write == float("inf"):
        problems.append("roo send did not report its start")
    else:
        t0 = first_write
    stopped = re.search(r"stopped: (\d+) events in, (\d+) outputs written, (\d+) events failed", tail(w_log, 30))
    late = re.search(r"stopped: .*?(\d+) late events", tail(w_log, 30))
    if not stopped or int(stopped.group(1)) != 2 * n or int(stopped.group(3)) != 0 or int(stopped.group(2)) != m \
            or (late and int(late.group(1)) != 0):
        problems.append("worker's stop line %r; want %d events in (each event to both sources), %d outputs, none "
                        "failed, none late" % (stopped and stopped.group(0), 2 * n, m))
    with open(out_path, "rb") as f:
        output = f.read()
    if output.count(b"\n") != m:
        problems.append("%d output lines, want %d" % (output.count(b"\n"), m))
    result = finish(out_path, want, wm, {"rate": n / (t1 - t0), "seconds": t1 - t0,
                                         "cpu_s_per_m": (cpu1 - cpu0) / n * 1e6, "rss_peak_mib": hwm,
                                         "loadavg_1min": load, "stop_line": stopped and stopped.group(0)})
    if problems:
        result["invalid"] = "; ".join(problems + ([result["invalid"]] if "invalid" in result else []))
        say("  %s INVALID: %s (logs %s, %s)" % (tag, result["invalid"], w_log, rx_log))
    return result


# ---------------------------------------------------------------- latency

def latency_receiver():
    """--role latency-receiver: accept one connection, stamp every read (CLOCK_REALTIME ns) until EOF, then print
    one JSON object {"rows": [[arrival_ns, line], ...], "trailing_bytes": n}. Prints `listening PORT` first."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print("listening %d" % listener.getsockname()[1], flush=True)
    conn, _ = listener.accept()
    listener.close()
    gc.disable()  # no collection pause between two reads
    now, recv = time.time_ns, conn.recv
    chunks = []
    while True:
        chunk = recv(1 << 18)
        t = now()
        if not chunk:
            break
        chunks.append((t, chunk))
    rows, carry = [], b""
    for t, chunk in chunks:
        buf = carry + chunk
        end = buf.rfind(b"\n") + 1
        rows += [[t, line.decode()] for line in buf[:end].split(b"\n") if line]
        carry = buf[end:]
    print(json.dumps({"rows": rows, "trailing_bytes": len(carry)}), flush=True)


def latency_run(opts, rate, tag):
    """One paced run at `rate` events/s; a dict with the latency percentiles (ms), or with "invalid"."""
    total = int(rate * (opts.latency_seconds + opts.latency_warmup))
    keys_n = len(logic.KEYS)
    records = [(i % keys_n, (i * 7919) % 1000) for i in range(total)]
    frame = data.FRAME.pack
    rx_log = os.path.join(OUT, "latency-%s-receive.log" % tag)
    with open(rx_log, "w") as rx_err:
        rx = spawn([sys.executable, os.path.abspath(__file__), "--role", "latency-receiver"], stdout=subprocess.PIPE,
                   stderr=rx_err, bufsize=0)
    rx_lines = A.LineReader(rx, "the latency receiver", rx_log)
    first = rx_lines.read_line(10).split()
    if len(first) != 2 or first[0] != "listening":
        raise BenchError("latency receiver: %r; log:\n%s" % (first, tail(rx_log)))
    server, ports, w_log = start_roo(opts, "latency-" + tag, int(first[1]))
    load = A.loadavg()
    cpu0 = A.cpu_seconds(server.pid)
    socks = []
    for port in ports:
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(30)  # a worker that stops reading fails the run instead of hanging it
        socks.append(s)
    # Open loop: at each 1 ms tick, every event due by now, stamped now (CLOCK_REALTIME: its event time), to both
    # sources. No collection while pacing (a full one would pause the sender and make a burst).
    gc.collect()
    gc.disable()
    tick_ns = 1_000_000
    clock, wall = time.monotonic_ns, time.time_ns
    start = clock()
    next_tick = start
    sent = 0
    ticks = []         # (stamp ns, events) per write
    stamped = []       # (stamp, key id, value) of every event: the expected windows
    while sent < total:
        due = min(total, (clock() - start) * int(rate) // 1_000_000_000)
        if due > sent:
            stamp = wall()
            chunk = b"".join([frame(14, stamp, k, v) for k, v in records[sent:due]])
            for s in socks:
                s.sendall(chunk)
            ticks.append((stamp, due - sent))
            stamped += [(stamp, k, v) for k, v in records[sent:due]]
            sent = due
        next_tick += tick_ns
        pause = next_tick - clock()
        if pause > 0:
            time.sleep(pause / 1e9)
        else:
            next_tick = clock()
    send_seconds = (clock() - start) / 1e9
    gc.enable()
    # Every window the data fires (end <= the last stamp) is due at once; the rest fire only once the inputs are
    # idle (2 s). Give the first --latency-drain seconds, then stop; the check finds any window still missing.
    time.sleep(opts.latency_drain)
    cpu1 = A.cpu_seconds(server.pid) if server.poll() is None else None
    for s in socks:
        s.close()
    code = stop(server)
    summary = json.loads(rx_lines.read_line(60, w_log))
    rx.wait(timeout=30)
    problems = []
    if code != 0:
        problems.append("the worker exited %s after SIGTERM" % code)
    late = re.search(r"stopped: .*?(\d+) late events", tail(w_log, 30))
    if late and int(late.group(1)) != 0:
        problems.append("the worker counted %s late events" % late.group(1))
    last = ticks[-1][0]
    want, _ = data.expected(stamped)
    fired = data.fired(want, last)
    wrong = data.check("".join(line + "\n" for _, line in summary["rows"]).encode(), want, last)
    if wrong or summary["trailing_bytes"]:
        problems.append("output check: %s, %d bytes of an incomplete line" % (wrong, summary["trailing_bytes"]))
    stamps = [t for t, _ in ticks]
    warm_from = ticks[0][0] + int(opts.latency_warmup * 1e9)
    lat = []
    by_kind = {}       # "c" / "s" -> latencies: which aggregation's firings decide the tail
    whole = {}         # window end -> the latency of its last output: how long the whole firing took
    for arrival, line in summary["rows"]:
        kind, _, end = line.split(" ")[:3]
        end = int(end)
        if warm_from <= end <= last:
            # The watermark passes `end` with the first event stamped at or after it.
            lat.append(arrival - stamps[bisect.bisect_left(stamps, end)])
            by_kind.setdefault(kind, []).append(lat[-1])
            whole[end] = max(whole.get(end, 0), lat[-1])
    lat.sort()
    result = {"rate": rate, "achieved_send_rate": total / send_seconds, "events": total, "windows_fired": fired,
              "measured": len(lat), "loadavg_1min": load, "ticks": len(ticks),
              "batch_events_max": max(b for _, b in ticks),
              "cpu_s_per_m": (cpu1 - cpu0) / total * 1e6 if cpu1 is not None else None}
    if lat:
        def pick(q):
            return lat[min(len(lat) - 1, int(q * len(lat)))] / 1e6
        result.update({"p50_ms": pick(0.5), "p99_ms": pick(0.99), "p999_ms": pick(0.999), "max_ms": lat[-1] / 1e6,
                       "p99_ms_by_kind": {k: round(sorted(v)[min(len(v) - 1, int(0.99 * len(v)))] / 1e6, 3)
                                          for k, v in sorted(by_kind.items())},
                       "firings": len(whole), "firing_last_ms": A.summarise([x / 1e6 for x in whole.values()]),
                       # per window end in order: where the slow firings fall (at the start, periodic, ...)
                       "firing_last_ms_each": [round(whole[end] / 1e6, 3) for end in sorted(whole)]})
    else:
        problems.append("no window ended after the warm-up")
    if problems:
        result["invalid"] = "; ".join(problems)
    return result


# ---------------------------------------------------------------- report

def median(results, system):
    entry = results["throughput"].get(system) or {}
    return (entry.get("rate") or {}).get("median")


def render(results):
    lines = ["Measured %s on %s (load average %.1f at start, %.1f at end), commit %s; %s events, 1,000 keys, event "
             "times 0.5 ms apart in the data (%s s of event time); %s windows fired by the data (%s 1 s counts + %s "
             "10 s / 1 s sums); %d runs per row (median, min-max), rounds interleaved; Bytewax %s. Command: `%s`." % (
                 results["date"], results["cpu"], results["load_start"], results.get("load_end", 0.0),
                 results["commit"], fmt(results["events"]), fmt(results["events"] * data.STEP / 1e9),
                 fmt(results["fired"]), fmt(results["fired_c"]), fmt(results["fired_s"]), results["runs"],
                 results.get("bytewax_version") or "not available", results["command"]), ""]
    lines += ["| system | events/s | CPU s / M events | valid runs |", "| --- | ---: | ---: | ---: |"]
    for system in results["systems"]:
        entry = results["throughput"].get(system) or {}
        if entry.get("unavailable"):
            lines.append("| %s | not available: %s | | |" % (NAMES[system], entry["unavailable"][:200]))
            continue
        r = entry.get("rate")
        cpu = entry.get("cpu_s_per_m")
        valid = "%d/%d" % (entry.get("valid", 0), len(entry.get("runs", [])))
        if r:
            lines.append("| %s | %s (%s-%s) | %.2f | %s |" % (NAMES[system], fmt(r["median"]), fmt(r["min"]),
                                                            fmt(r["max"]), cpu["median"] if cpu else 0, valid))
        else:
            lines.append("| %s | invalid: %s | | %s |" % (NAMES[system], (entry.get("why") or "?")[:200], valid))
    roo, bw, ceil = median(results, "roo1"), median(results, "bytewax"), median(results, "ceiling")
    inline = median(results, "ceiling_inline")
    ratio = lambda a, b: "%.2f" % (a / b) if a and b else "-"
    met = lambda a, b, limit: "" if not (a and b) else (" (met)" if a / b >= limit else " (not met)")
    lines += ["", "| ratio (medians) | value | target |", "| --- | ---: | ---: |",
              "| Roo, 1 worker / Bytewax | %s | >= 3%s |" % (ratio(roo, bw), met(roo, bw, 3.0)),
              "| Roo, 1 worker / ceiling | %s | >= 0.7%s |" % (ratio(roo, ceil), met(roo, ceil, 0.7)),
              "| Roo, 1 worker / the logic written inline | %s | |" % ratio(roo, inline),
              "| Bytewax / ceiling | %s | |" % ratio(bw, ceil)]
    lat = results.get("latency")
    if lat:
        lines += ["", "Latency, Roo 1 worker: watermark passes a window's end -> its output arrives (delay 0), offered "
                  "%g s after a %g s warm-up at a steady rate, event time = the sender's wall clock:" % (
                      results["latency_seconds"], results["latency_warmup"]), "",
                  "| load | offered events/s | outputs measured | p50 ms | p99 ms | p99.9 ms | max ms | p99 <= 5 ms "
                  "| last output of a firing, ms: median (min-max) |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
        for row in lat:
            load = "%.0f %%" % (100 * row["load"]) if row.get("load") else "-"
            if "p99_ms" in row and not row.get("invalid"):
                f = row["firing_last_ms"]
                lines.append("| %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %s | %.2f (%.2f-%.2f) over %d |" % (
                    load, fmt(row["rate"]), fmt(row["measured"]), row["p50_ms"], row["p99_ms"], row["p999_ms"],
                    row["max_ms"], "met" if row["p99_ms"] <= 5 else "not met", f["median"], f["min"], f["max"],
                    row["firings"]))
            else:
                why = (row.get("invalid") or row.get("unavailable") or "?").splitlines()[0][:200]
                lines.append("| %s | %s | %s | | | | | | |" % (load, fmt(row.get("rate")), why))
    return "\n".join(lines) + "\n"


def update_docs(text):
    with open(DOCS) as f:
        doc = f.read()
    begin, end = doc.find(DOCS_BEGIN), doc.find(DOCS_END)
    if begin < 0 or end < begin:
        raise BenchError("%s has no %r ... %r markers" % (DOCS, DOCS_BEGIN, DOCS_END))
    with open(DOCS, "w") as f:
        f.write(doc[:begin + len(DOCS_BEGIN)] + "\n" + text + doc[end:])


# ---------------------------------------------------------------- main

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="200,000 events, 2 runs, a 3 s latency row")
    p.add_argument("--events", type=int, default=0, help="events (default 1,000,000; --quick 200,000)")
    p.add_argument("--runs", type=int, default=0, help="runs per system (default 3, --quick 2)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS))
    p.add_argument("--roo", default=os.path.join(REPO, "build", "src", "cli", "roo"), help="roo binary")
    p.add_argument("--latency-loads", default="0.1,0.5",
                   help="offered rates of the latency rows as shares of Roo's median throughput (default 0.1,0.5)")
    p.add_argument("--latency-rate", type=float, default=0, help="one row at this many events/s instead")
    p.add_argument("--latency-seconds", type=float, default=0, help="measured seconds (default 20, --quick 3)")
    p.add_argument("--latency-warmup", type=float, default=1.0, help="seconds sent before measuring (default 1)")
    p.add_argument("--latency-drain", type=float, default=1.0,
                   help="seconds after the last event before the worker is stopped (default 1)")
    p.add_argument("--run-timeout", type=int, default=120, help="seconds a Roo run may take")
    p.add_argument("--no-latency", action="store_true")
    p.add_argument("--no-docs", action="store_true", help="do not rewrite the Windows block of docs/benchmarks.md")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object instead of the table")
    opts = p.parse_args()
    opts.events = opts.events or (data.QUICK_EVENTS if opts.quick else data.EVENTS)
    opts.runs = opts.runs or (2 if opts.quick else 3)
    opts.latency_seconds = opts.latency_seconds or (3.0 if opts.quick else 20.0)
    opts.latency_loads = [float(x) for x in opts.latency_loads.split(",") if x]
    return opts


def main():
    if "--role" in sys.argv and "latency-receiver" in sys.argv:
        latency_receiver()
        return 0
    opts = parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.makedirs(OUT, exist_ok=True)
    began = time.monotonic()
    systems = [s for s in opts.systems.split(",") if s]
    results = {"command": " ".join(["bench/windows/run.py"] + sys.argv[1:]), "commit": commit_of(),
               "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "cpu": "%d cores" % os.cpu_count(), "load_start": A.loadavg(), "events": opts.events,
               "runs": opts.runs, "roo": os.path.relpath(opts.roo, REPO), "throughput": {}}
    if "bytewax" in systems:
        results["bytewax_version"] = suite.ensure_bytewax(results)
        if not results["bytewax_version"]:
            say("bytewax: not available: %s" % results.get("bytewax_error"))
            systems.remove("bytewax")
    results["systems"] = systems
    path = data.make(OUT, opts.events)
    want, wm = data.expected(data.records(opts.events))
    results["fired"] = data.fired(want, wm)
    results["fired_c"] = sum(1 for s in want if s[2] <= wm and s[0] == b"c")
    results["fired_s"] = results["fired"] - results["fired_c"]
    say("input: %s events (%s), %s windows fired by the data" % (fmt(opts.events), os.path.relpath(path, REPO),
                                                                 fmt(results["fired"])))
    unavailable = None if os.access(opts.roo, os.X_OK) else "no roo binary at %s" % opts.roo
    runs = {s: [] for s in systems}
    for index in range(opts.runs):
        for s in systems:
            tag = "%s-%d" % (s, index)
            if s == "roo1" and unavailable:
                runs[s].append({"unavailable": unavailable})
                continue
            try:
                if s in ("ceiling", "ceiling_inline"):
                    r = ceiling_run(opts, path, want, wm, tag, "functions" if s == "ceiling" else "inline")
                elif s == "bytewax":
                    r = bytewax_run(opts, path, opts.events, want, wm, tag)
                else:
                    r = roo_run(opts, path, opts.events, want, wm, tag)
            except Unavailable as why:
                unavailable = str(why)
                say("  roo1: Roo cannot run bench/windows/app.py: %s" % unavailable)
                r = {"unavailable": unavailable}
            except (BenchError, OSError, subprocess.SubprocessError, ValueError) as error:
                r = {"invalid": "harness error: %s" % error}
            finally:
                cleanup_children()
            runs[s].append(r)
            if "rate" in r and not r.get("invalid"):
                say("  %s run %d: %s events/s (%.2f CPU s / M, load %.1f)" % (s, index + 1, fmt(r["rate"]),
                                                                             r["cpu_s_per_m"], r["loadavg_1min"]))
            elif r.get("invalid"):
                say("  %s run %d INVALID: %s" % (s, index + 1, r["invalid"]))
    for s, rs in runs.items():
        good = [r for r in rs if "rate" in r and not r.get("invalid")]
        entry = {"runs": rs, "valid": len(good)}
        if any(r.get("unavailable") for r in rs):
            entry["unavailable"] = unavailable
        elif good:
            entry["rate"] = A.summarise([r["rate"] for r in good])
            entry["cpu_s_per_m"] = A.summarise([r["cpu_s_per_m"] for r in good])
        else:
            entry["why"] = next((r["invalid"] for r in rs if r.get("invalid")), "no run")
        results["throughput"][s] = entry
    if not opts.no_latency and "roo1" in systems:
        results["latency_seconds"], results["latency_warmup"] = opts.latency_seconds, opts.latency_warmup
        roo = median(results, "roo1")
        rates = [opts.latency_rate] if opts.latency_rate else \
            [roo * load for load in opts.latency_loads] if roo else []
        if unavailable or not rates:
            results["latency"] = [{"unavailable": unavailable or "no valid Roo throughput run", "rate": None}]
        else:
            results["latency"] = []
            for i, rate in enumerate(rates):
                say("latency: %s events/s" % fmt(rate))
                try:
                    row = latency_run(opts, rate, "roo1-%d" % i)
                except (BenchError, OSError, subprocess.SubprocessError, ValueError) as error:
                    row = {"invalid": "harness error: %s" % error, "rate": rate}
                finally:
                    cleanup_children()
                row["load"] = rate / roo if roo else None
                results["latency"].append(row)
                say("  %s" % json.dumps(row))
    results["load_end"] = A.loadavg()
    results["elapsed_s"] = time.monotonic() - began
    text = render(results)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(text)
    print(json.dumps(results) if opts.json else text)
    if not opts.no_docs:
        update_docs(text)
        say("rewrote the Windows block of docs/benchmarks.md")
    say("(%.0f s; results in bench/out/windows/results.{md,json})" % results["elapsed_s"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print("bench/windows: %s" % error, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        cleanup_children()
