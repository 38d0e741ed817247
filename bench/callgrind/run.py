#!/usr/bin/python3
"""Instructions per event spent outside the user's Python code, counted by callgrind.

Run from anywhere (see bench/README.md, "Instructions per event (callgrind)"):

    /usr/bin/python3 bench/callgrind/run.py            # table, ~1-2 min
    /usr/bin/python3 bench/callgrind/run.py --json     # one JSON object on stdout

Wall-clock throughput moves with the machine's load; instruction counts do not. This
script runs one Roo worker under `valgrind --tool=callgrind` on a fixed input and counts
the instructions the worker process executes (all threads; callgrind runs them one at a
time and sums them), then splits them into "inside the user's Python functions" and
"outside": Roo's runtime, the CPython calls Roo makes around the user functions, libc.

Method (printed with the results):

1. Apps: bench/callgrind/apps/passthrough.py (decoder and encoder return the payload:
   the least user work a pipeline can have) and examples/alphabet/alphabet.py (decode,
   key_by, per-letter state, encode). Inputs are fixed files: N 9-byte alphabet votes
   (examples/alphabet/make_data.py's generator) and N 8-byte text lines.
2. Each app runs twice per repeat: with N events and with 2N events. A run is
   `roo receive --expect` (native, not under valgrind), then `valgrind --tool=callgrind
   roo run APP`, then `roo send` of the whole file at full speed; once the receiver has
   all outputs, SIGTERM; the worker must drain, log `stopped: n events in, n outputs
   written, 0 events failed, 0 events not delivered` and exit 0, and the receiver must
   count exactly n.
3. Per event = (I(2N) - I(N)) / N for every figure: start-up (interpreter, imports),
   shut-down and the first batches' warm-up cancel out.
4. Attribution, from the call graph in the callgrind output file (parsed here; each call
   arc carries the inclusive cost of that call):
   - inside user code = inclusive cost of the calls that Roo's PipelineRunner makes to
     PyObject_Vectorcall / PyObject_CallNoArgs: the user's decoder, key extractor,
     computations, state functions, state factory and encoder, including CPython's cost
     of calling them and of everything they call;
   - outside user code = total - inside; split into
     - Roo's own functions: self cost of every function of Roo's sources (roo:: symbols,
       main, and what the compiler inlined into them);
     - C++ libraries compiled into Roo: self cost of header-only code instantiated in
       the roo binary (Boost.Asio, libstdc++ templates, spdlog/fmt headers, CLI11, pybind11);
     - CPython glue: inclusive cost of the calls from Roo's code into CPython other than
       the user calls (PyBytes_FromStringAndSize, Py_DECREF's deallocations, dict lookups
       of state tables, key hashing, pickle for hops...);
     - libc: inclusive cost of calls from Roo's code into libc (memcpy, malloc, the
       syscall wrappers: recv/send/epoll/futex; callgrind does not count the kernel's own
       instructions, so "kernel-facing" work appears only as these wrappers);
     - C++ shared libraries: calls into libstdc++.so, libfmt, libspdlog...;
     - not attributed: what runs outside any Roo function (thread start-up, the loader);
       about 0 in the per-event differences.
5. Everything is repeated --repeats times (default 2) to show how well the figure
   repeats; callgrind is deterministic, and what varies is only how the input happens to
   be cut into batches.

Everything runs on 127.0.0.1 with free ports; every process started is stopped on exit,
failure or ^C. Callgrind outputs and logs go to bench/out/callgrind/.
"""
import argparse
import collections
import datetime
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import processes  # noqa: E402
from processes import BenchError, commit_of, free_port, spawn, tail, wait_for_text  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
OUT = os.path.join(BENCH, "out", "callgrind")
DEFAULT_ROO = os.path.join(REPO, "build", "src", "cli", "roo")
READY = "|~~ INIT PHASE III: Application is ready to work! ~~|"
APPS = {
    "passthrough": os.path.join(HERE, "apps", "passthrough.py"),
    "alphabet": os.path.join(REPO, "examples", "alphabet", "alphabet.py"),
}
# Roo's calls into CPython that run the user's functions (pipeline_runner.cpp: call1/call2 and
# the state factory).
USER_CALLEES = {"PyObject_Vectorcall", "PyObject_CallNoArgs", "PyObject_CallOneArg", "PyObject_Call"}
TOPS = ("top_roo", "top_cpython", "top_libc")
CATEGORIES = ["roo", "cxx_in_roo", "cpython_glue", "libc", "cxx_shared", "unattributed"]
CATEGORY_LABELS = {
    "total": "total (worker process, all threads)",
    "user": "inside user code (Roo's calls of the user functions)",
    "outside": "outside user code",
    "roo": "  Roo's own functions (roo::, self)",
    "cxx_in_roo": "  C++ libraries compiled into roo (Boost.Asio, std::, spdlog/fmt, self)",
    "cpython_glue": "  CPython glue called by Roo (PyBytes_FromStringAndSize, dealloc, ...)",
    "libc": "  libc called by Roo (memcpy, malloc, syscall wrappers)",
    "cxx_shared": "  C++ shared libraries (libstdc++.so, libfmt, libspdlog)",
    "unattributed": "  not attributed (outside any Roo function)",
}

# ---------------------------------------------------------------- processes

def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


# ---------------------------------------------------------------- inputs

def make_inputs(n):
    """{app: frame file of n events}: alphabet votes (9-byte frames) and text lines (12-byte frames)."""
    os.makedirs(OUT, exist_ok=True)
    files = {}
    sys.path.insert(0, os.path.join(REPO, "examples", "alphabet"))
    import make_data
    path = os.path.join(OUT, "alphabet_%d.msg" % n)
    if not os.path.exists(path) or os.path.getsize(path) != 9 * n:
        pack = struct.Struct(">IcI").pack
        with open(path + ".tmp", "wb") as f:
            f.write(b"".join(pack(5, letter.encode("ascii"), votes) for letter, votes in make_data.records(n)))
        os.replace(path + ".tmp", path)
    files["alphabet"] = (path, 9)
    path = os.path.join(OUT, "lines_%d.msg" % n)
    if not os.path.exists(path) or os.path.getsize(path) != 12 * n:
        with open(path + ".tmp", "wb") as f:
            f.write(b"".join(struct.pack(">I", 8) + b"e%06d\n" % (i % 1000000) for i in range(n)))
        os.replace(path + ".tmp", path)
    files["passthrough"] = (path, 12)
    return files


# ---------------------------------------------------------------- one run under callgrind

def callgrind_run(opts, app, n, frame_file, msg_size, tag):
    rx_log = os.path.join(OUT, "%s-receive.log" % tag)
    w_log = os.path.join(OUT, "%s-worker.log" % tag)
    cg_out = os.path.join(OUT, "%s.callgrind" % tag)
    if os.path.exists(cg_out):
        os.remove(cg_out)
    with open(rx_log, "w") as rx_err:
        rx = spawn([opts.roo, "receive", "--listen", "127.0.0.1:0", "--no-write", "--expect", str(n), "--stats"],
                   stdout=subprocess.DEVNULL, stderr=rx_err)
    out_port = int(wait_for_text(rx_log, r"Listening on [^:]+:(\d+)", rx, 10, "roo receive").group(1))
    in_port = free_port()
    argv = [opts.valgrind, "--tool=callgrind", "--callgrind-out-file=" + cg_out, "--dump-instr=no",
            opts.roo, "run", "--drain-timeout", "60"] + (["--no-metrics"] if opts.no_metrics else []) + [APPS[app],
            "--in", "Src@127.0.0.1:%d" % in_port, "--out", "127.0.0.1:%d" % out_port]
    # A fixed hash seed: str hashes, and so dict probing, are the same in every run.
    env = dict(os.environ, PYTHONHASHSEED="0")
    with open(w_log, "w") as w_err:
        worker = spawn(argv, stdout=subprocess.DEVNULL, stderr=w_err, cwd=OUT, env=env)
    wait_for_text(w_log, re.escape(READY), worker, 180, "roo run under callgrind")
    send = subprocess.run([opts.roo, "send", "--host", "127.0.0.1:%d" % in_port, "--file", frame_file, "--binary",
                           "--msg-size", str(msg_size), "--batch-size", "10000", "--interval", "0", "--no-write"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120, cwd=OUT)
    try:
        rx.wait(timeout=300)
    except subprocess.TimeoutExpired:
        raise BenchError("%s: the receiver did not get %d outputs within 300 s; worker log ends:\n%s"
                         % (tag, n, tail(w_log)))
    worker.send_signal(signal.SIGTERM)
    try:
        code = worker.wait(timeout=180)
    except subprocess.TimeoutExpired:
        raise BenchError("%s: the worker did not exit within 180 s of SIGTERM; log ends:\n%s" % (tag, tail(w_log)))
    problems = []
    if send.returncode != 0 or ("sent %d messages" % n) not in send.stderr:
        problems.append("roo send exited %d: %s" % (send.returncode, send.stderr.strip()))
    stats = re.search(r"received (\d+) messages", tail(rx_log))
    if rx.returncode != 0 or not stats or int(stats.group(1)) != n:
        problems.append("roo receive exited %s, stats %r" % (rx.returncode, stats and stats.group(0)))
    if code != 0:
        problems.append("the worker exited %d after SIGTERM" % code)
    with open(w_log, errors="replace") as f:
        stopped = re.search(r"stopped: (\d+) events in, (\d+) outputs written, (\d+) events failed, "
                            r"(\d+) events not delivered", f.read())
    if not stopped or stopped.groups() != (str(n), str(n), "0", "0"):
        problems.append("the worker's count line is %r, want %d in, %d out, 0 failed, 0 not delivered"
                        % (stopped and stopped.group(0), n, n))
    if not os.path.exists(cg_out):
        problems.append("no callgrind output %s" % cg_out)
    if problems:
        raise BenchError("%s: %s\nworker log %s ends:\n%s" % (tag, "; ".join(problems), w_log, tail(w_log)))
    return parse_callgrind(cg_out)


# ---------------------------------------------------------------- callgrind output

_COMPRESSED = re.compile(r"\((\d+)\)(?: (.*))?$")
_RECURSION = re.compile(r"'\d+$")


def parse_callgrind(path):
    """Reads a callgrind.out file (one event, Ir) into per-category instruction counts.

    Returns {"total", "user", "outside", categories..., "top_cpython": {callee: Ir},
    "top_libc", "top_roo": {function: Ir}}; see the module docstring for the categories.
    """
    names = {"ob": {}, "fl": {}, "fn": {}}

    def name(kind, text):
        m = _COMPRESSED.match(text)
        if not m:
            return text
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
            return m.group(2)
        return names[kind][m.group(1)]

    self_cost = collections.Counter()      # function -> Ir in its own code
    fn_where = {}                          # function -> (object, file) of its own fn= block
    call_where = {}                        # the same, from a call arc (for functions without a block)
    arcs = collections.Counter()           # (caller, callee) -> inclusive Ir of those calls
    total = None
    ob = fl = fn = None
    cob = cfl = cfn = None
    in_call = False
    with open(path, errors="replace") as f:
        for line in f:
            c = line[0]
            if c.isdigit() or c in "+-*":
                cost = int(line.split()[-1])
                if in_call:
                    arcs[(fn, cfn)] += cost
                    call_where.setdefault(cfn, (cob or ob, cfl or fl))
                    in_call = False
                    cob = cfl = None
                else:
                    self_cost[fn] += cost
                continue
            if line.startswith("calls="):
                in_call = True
                continue
            key, _, value = line.rstrip("\n").partition("=")
            if key == "ob":
                ob = name("ob", value)
            elif key == "fl":
                fl = name("fl", value)
            elif key in ("fi", "fe"):
                name("fl", value)
            elif key == "fn":
                fn = _RECURSION.sub("", name("fn", value))
                fn_where.setdefault(fn, (ob, fl))
                cob = cfl = None
            elif key == "cob":
                cob = name("ob", value)
            elif key in ("cfi", "cfl"):
                cfl = name("fl", value)
            elif key == "cfn":
                cfn = _RECURSION.sub("", name("fn", value))
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
    if total is None:
        total = sum(self_cost.values())

    def category(function):
        obj, file = fn_where.get(function) or call_where.get(function) or ("", "")
        obj = obj or ""
        file = file or ""
        if obj.endswith("/roo") or obj.endswith("/machida"):
            if "roo::" in function or file.startswith(REPO + "/") or function == "main":
                return "roo"
            if file.startswith("/usr/include/"):
                return "cxx_in_roo"
            return "cpython"  # the static libpython (no debug information: file ???)
        if "/libc.so" in obj:
            return "libc"
        if "python3" in obj:
            return "cpython"  # lib-dynload extension modules
        if "libstdc++" in obj or "libfmt" in obj or "libspdlog" in obj or "libgcc" in obj or "libyaml" in obj:
            return "cxx_shared"
        if "ld-linux" in obj:
            return "loader"
        return "other"

    cat = {fn_: category(fn_) for fn_ in set(self_cost) | {k[1] for k in arcs} | {k[0] for k in arcs}}
    result = collections.Counter()
    top_cpython = collections.Counter()
    top_libc = collections.Counter()
    top_roo = collections.Counter()
    for function, cost in self_cost.items():
        if cat[function] in ("roo", "cxx_in_roo"):
            result[cat[function]] += cost
            top_roo[function] += cost
    for (caller, callee), cost in arcs.items():
        if cat[caller] not in ("roo", "cxx_in_roo") or cat[callee] in ("roo", "cxx_in_roo"):
            continue
        if callee in USER_CALLEES and "PipelineRunner" in caller:
            result["user"] += cost
        elif cat[callee] == "cpython":
            result["cpython_glue"] += cost
            top_cpython[callee] += cost
        elif cat[callee] == "libc":
            result["libc"] += cost
            top_libc[callee] += cost
        elif cat[callee] == "cxx_shared":
            result["cxx_shared"] += cost
        else:
            result["unattributed"] += cost
    result["total"] = total
    result["outside"] = total - result["user"]
    result["unattributed"] += result["outside"] - sum(result[c] for c in CATEGORIES if c != "unattributed")
    out = {k: result[k] for k in ["total", "user", "outside"] + CATEGORIES}
    out["top_cpython"] = dict(top_cpython)
    out["top_libc"] = dict(top_libc)
    out["top_roo"] = dict(top_roo)
    return out


# ---------------------------------------------------------------- measurement and report

def per_event(big, small, n):
    fields = {k: (big[k] - small[k]) / n for k in ["total", "user", "outside"] + CATEGORIES}
    for top in TOPS:
        keys = set(big[top]) | set(small[top])
        fields[top] = {k: (big[top].get(k, 0) - small[top].get(k, 0)) / n for k in keys}
    return fields


def spread(values):
    lo, hi = min(values), max(values)
    mid = (lo + hi) / 2
    return 0.0 if mid == 0 else (hi - lo) / abs(mid) * 100


def short_name(function):
    """A C++ symbol without its parameter list and template arguments, for the tables."""
    depth = 0
    text = []
    for ch in function:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif depth == 0:
            text.append(ch)
    return "".join(text).replace("(anonymous namespace)::", "") or function


def render(report):
    n = report["events"]
    lines = []
    lines.append("Instructions per event of one Roo worker, counted by callgrind (%s)" % report["valgrind"])
    lines.append("Measured %s; roo %s (%s); load average at start %s (callgrind counts do not depend on it)."
                 % (report["date"], report["commit"], report["roo"], " ".join("%.2f" % x for x in report["loadavg"])))
    lines.append("")
    lines.append("Method: each app runs under valgrind --tool=callgrind with N = %d and 2N = %d events (one "
                 "connection, full speed); per event = (I(2N) - I(N)) / N, so start-up and shut-down cancel. "
                 "'inside user code' = inclusive cost of PipelineRunner's PyObject_Vectorcall/CallNoArgs calls "
                 "(the user's decoder, key_by, computations, state functions, encoder, with CPython's call cost); "
                 "'outside' = total - inside, split into self cost of Roo's functions and of the C++ code compiled "
                 "into roo, and the inclusive cost of Roo's other calls into CPython, libc and shared C++ "
                 "libraries. Callgrind counts user-space instructions only: the kernel's work behind the syscall "
                 "wrappers is not included. Each app x size ran %d times (repeat columns)." % (n, 2 * n,
                                                                                              report["repeats"]))
    for app, res in report["apps"].items():
        reps = res["repeats"]
        lines.append("")
        lines.append("%s (%s)" % (app, os.path.relpath(APPS[app], REPO)))
        header = "| instructions per event | " + " | ".join("repeat %d" % (i + 1) for i in range(len(reps))) \
                 + " | max - min (% of the row) | share of total |"
        lines.append(header)
        lines.append("|" + "---|" * (len(reps) + 3))
        for key in ["total", "user", "outside"] + CATEGORIES:
            values = [r[key] for r in reps]
            share = values[0] / reps[0]["total"] * 100 if reps[0]["total"] else 0
            label = CATEGORY_LABELS[key]
            if key in ("total", "user", "outside"):
                label = "**%s**" % label
            relative = "%.2f %%" % spread(values) if min(abs(v) for v in values) >= 10 else "-"
            lines.append("| %s | %s | %.1f (%s) | %.1f %% |"
                         % (label, " | ".join("%.0f" % (v if abs(v) >= 0.5 else 0) for v in values),
                            max(values) - min(values), relative, share))
        first = reps[0]
        for top, what in (("top_roo", "Roo and C++ in roo, largest functions (self)"),
                          ("top_cpython", "CPython glue, largest callees (inclusive)"),
                          ("top_libc", "libc, largest callees (inclusive)")):
            items = sorted(first[top].items(), key=lambda kv: -kv[1])[:8]
            lines.append("- %s, instructions/event (repeat 1): %s"
                         % (what, "; ".join("%s %.0f" % (short_name(k), v) for k, v in items if v >= 1)))
    lines.append("")
    lines.append("Wall time %.0f s." % report["seconds"])
    return "\n".join(lines)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--events", type=int, default=50000, help="N: events of the small run (the large one has 2N)")
    p.add_argument("--repeats", type=int, default=2, help="how many times to measure each app (default 2)")
    p.add_argument("--apps", default="passthrough,alphabet", help="comma-separated: passthrough, alphabet")
    p.add_argument("--roo", default=DEFAULT_ROO, help="the roo binary (default build/src/cli/roo)")
    p.add_argument("--no-metrics", action="store_true", help="run roo with --no-metrics (the metrics' cost)")
    return p.parse_args()


def main():
    opts = parse_args()
    if not os.access(opts.roo, os.X_OK):
        raise BenchError("no roo binary at %s; build it with: cmake --build %s -j2 --target roo"
                         % (opts.roo, os.path.join(REPO, "build")))
    opts.roo = os.path.abspath(opts.roo)
    opts.valgrind = shutil.which("valgrind")
    if not opts.valgrind:
        raise BenchError("valgrind is not installed (apt-get install -y valgrind)")
    apps = [a for a in opts.apps.split(",") if a]
    for app in apps:
        if app not in APPS:
            raise BenchError("unknown app %r (known: %s)" % (app, ", ".join(APPS)))
    started = time.monotonic()
    version = subprocess.run([opts.valgrind, "--version"], capture_output=True, text=True).stdout.strip()
    report = {"benchmark": "callgrind instructions per event", "date": datetime.datetime.utcnow().strftime(
        "%Y-%m-%d %H:%M UTC"), "commit": commit_of(), "roo": opts.roo, "valgrind": version,
        "loadavg": loadavg(), "events": opts.events, "repeats": opts.repeats, "apps": {}}
    n = opts.events
    small, big = make_inputs(n), make_inputs(2 * n)
    for app in apps:
        reps = []
        for r in range(opts.repeats):
            counts = {}
            for size, files in ((n, small), (2 * n, big)):
                path, msg_size = files[app]
                if not opts.json:
                    print("  %s, %d events, repeat %d ..." % (app, size, r + 1), file=sys.stderr, flush=True)
                counts[size] = callgrind_run(opts, app, size, path, msg_size, "%s-%d-%d" % (app, size, r))
            reps.append(per_event(counts[2 * n], counts[n], n))
            reps[-1]["raw"] = {str(k): {kk: vv for kk, vv in v.items() if not kk.startswith("top_")}
                               for k, v in counts.items()}
        report["apps"][app] = {"repeats": reps,
                               "spread_percent": {k: spread([x[k] for x in reps])
                                                  for k in ["total", "user", "outside"] + CATEGORIES}}
    report["seconds"] = time.monotonic() - started
    if opts.json:
        print(json.dumps(report, indent=1, sort_keys=True))
    else:
        print(render(report))


if __name__ == "__main__":
    processes.run_main(main, "bench/callgrind/run.py")
