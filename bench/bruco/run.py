#!/usr/bin/python3
"""Bruco mode over HTTP (issue 13): a small JSON handler behind Roo's HTTP source against the same handler behind
aiohttp and behind the standard library's ThreadingHTTPServer, at 64 concurrent keep-alive clients.

    /usr/bin/python3 bench/bruco/run.py          # ~2 min: 3 rounds of 10 s; prints the table, rewrites the
                                                 # Bruco block of docs/benchmarks.md
    /usr/bin/python3 bench/bruco/run.py --quick  # ~30 s: 1 round of 3 s

Everything in this one invocation, on this machine (bench/README.md, "Bruco mode over HTTP"):

1. The handler (bench/bruco/function/handler.py) parses the JSON body, adds "handled_by": the worker's name, and
   returns the dict, which is written as JSON. Every system calls it through wallaroo._bruco.Handler (the context,
   the call and Bruco's return rules), so the Python work per request is the same and only the server differs:
   - roo1: `roo run` of a copy of bench/bruco/function/config.yaml with the port patched (workers: 1);
     roo2: the same with workers: 2 (not in the default set);
   - aiohttp (bench/bruco/aiohttp_server.py, in bench/out/venv-aiohttp, made from /usr/bin/python3 with aiohttp
     from PyPI when missing): one process, asyncio's default loop;
   - stdlib (bench/bruco/stdlib_server.py, /usr/bin/python3): http.server.ThreadingHTTPServer, HTTP/1.1.
2. --rounds rounds (default 3), each running every system once, in turn: start it on a free port; check that it
   answers each of CHECKS with exactly the expected status, content type and body (a wrong answer makes the run
   invalid, and it is not loaded); load it for --seconds (default 10) with wrk -t2 -c64 --timeout 10s --latency
   and bench/bruco/post.lua (POST of BODY on every request; wrk's own latency distribution gives p50/p99); check
   the answers again; stop it (Roo must exit 0 after SIGTERM). A run with any non-2xx answer, socket error or
   timeout is invalid. The server's CPU time (its whole process group, /proc) gives CPU microseconds per request.
   Without wrk (`apt-get install -y wrk`), --load python uses bench/bruco/load.py (64 asyncio connections in one
   Python process: a floor, since it saturates first); the output says which load was used.
3. Reported: per system the medians (min-max) over the valid runs of requests/s, and the medians of p50 and p99,
   and the ratios of the medians Roo / aiohttp and Roo / stdlib (issue 13's target: >= 3).
4. With --nats, also NATS -> handler -> NATS on a nats-server of its own (free port), --rounds rounds of roo1
   (Bruco mode, source and sink kind nats) and natspy (bench/bruco/nats_loop.py: a nats-py subscribe / handler /
   publish loop), each loaded by bench/bruco/nats_driver.py (--nats-messages messages, default 200,000, at most
   10,000 unanswered, every output checked in order); messages/s and the driver's CPU (near one core: the driver
   set the pace, the figure is a floor). nats-py comes from PyPI into bench/out/venv-nats.
The load generator runs on the same machine as the server: on 2 cores, wrk's two threads take CPU from the server.
"""
import argparse
import datetime
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import alphabet_one_worker as A  # noqa: E402  (loadavg, summarise, machine_info)
from processes import BenchError, cleanup_children, commit_of, ensure_venv, free_port, spawn, tail  # noqa: E402

OUT = os.path.join(BENCH, "out", "bruco")
FUNCTION = os.path.join(HERE, "function")
AIOHTTP_VENV = os.path.join(BENCH, "out", "venv-aiohttp")
DOCS = os.path.join(REPO, "docs", "benchmarks.md")
DOCS_BEGIN = ("<!-- bench/bruco results: begin (written by bench/bruco/run.py; edit the text around it, "
              "not inside) -->")
DOCS_END = "<!-- bench/bruco results: end -->"
SYSTEMS = ("roo1", "roo2", "aiohttp", "stdlib")
DEFAULT_SYSTEMS = ("roo1", "aiohttp", "stdlib")
NAMES = {"roo1": "Roo, 1 worker (`roo run bench/bruco/function`)", "roo2": "Roo, 2 workers (workers: 2)",
         "aiohttp": "aiohttp, 1 process", "stdlib": "standard library (ThreadingHTTPServer, HTTP/1.1)"}
NATS_VENV = os.path.join(BENCH, "out", "venv-nats")
NATS_SYSTEMS = ("roo1", "natspy")
NATS_NAMES = {"roo1": "Roo, 1 worker (Bruco mode, source and sink kind nats)",
              "natspy": "nats-py loop (subscribe, handler, publish)"}
CONNECTIONS = 64
BODY = '{"id": 42, "name": "bruco", "tags": ["a", "b"], "values": [1, 2, 3]}'
# Each request's expected answer is written out here, not computed with the handler: the oracle is independent.
CHECKS = [(BODY, '{"id": 42, "name": "bruco", "tags": ["a", "b"], "values": [1, 2, 3], '
                 '"handled_by": "initializer"}'),
          ('{"n": 1}', '{"n": 1, "handled_by": "initializer"}'),
          ('{"handled_by": "someone", "x": null}', '{"handled_by": "initializer", "x": null}')]
say = A.say if hasattr(A, "say") else (lambda text: print(text, file=sys.stderr, flush=True))


def fmt(x):
    return "-" if x is None else "{:,.0f}".format(x)


# ---------------------------------------------------------------- the systems

def function_copy(tag, port, workers):
    """bench/out/bruco/function-TAG/config.yaml: the function's config with the port and workers patched and
    handlerPath pointing at bench/bruco/function."""
    with open(os.path.join(FUNCTION, "config.yaml")) as f:
        text = f.read()
    for key, value in (("port", port), ("workers", workers)):
        text, n = re.subn(r"(?m)^(\s+%s:) \d+$" % key, r"\g<1> %d" % value, text)
        if n != 1:
            raise BenchError("bench/bruco/function/config.yaml: expected one '%s: N' line, found %d" % (key, n))
    text = text.replace("processor:\n", "processor:\n  handlerPath: %s\n" % FUNCTION, 1)
    folder = os.path.join(OUT, "function-%s" % tag)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        f.write(text)
    return folder


def start(opts, system, tag):
    """Starts `system` on a free port -> (process, port, log path)."""
    port = free_port()
    log = os.path.join(OUT, "run-%s.log" % tag)
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    if system.startswith("roo"):
        argv = [opts.roo, "run", function_copy(tag, port, int(system[3:]))]
        env.pop("PYTHONPATH")
    elif system == "aiohttp":
        argv = [opts.aiohttp_python, os.path.join(HERE, "aiohttp_server.py"), "--port", str(port),
                "--function", FUNCTION]
    else:
        argv = ["/usr/bin/python3", os.path.join(HERE, "stdlib_server.py"), "--port", str(port),
                "--function", FUNCTION]
    with open(log, "w") as err:
        proc = spawn(argv, stdout=err, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    return proc, port, log


def post(conn, body):
    conn.request("POST", "/", body=body.encode(), headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    return answer.status, answer.getheader("Content-Type"), answer.read().decode("utf-8", "replace")


def wait_answering(proc, port, log, what, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            post(conn, CHECKS[0][0])
            conn.close()
            return
        except OSError:
            pass
        if proc.poll() is not None:
            raise BenchError("%s exited (%s) before answering on port %d; its log %s ends:\n%s"
                             % (what, proc.returncode, port, log, tail(log)))
        if time.monotonic() > deadline:
            raise BenchError("%s: no answer on port %d within %d s; log %s ends:\n%s"
                             % (what, port, timeout, log, tail(log)))
        time.sleep(0.05)


def wrong_answers(port):
    """Each of CHECKS on one keep-alive connection; returns what differs from the expected answers ("" if none)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for body, want in CHECKS:
            got = post(conn, body)
            if got != (200, "application/json", want):
                return "POST %s answered %r, want %r" % (body, got, (200, "application/json", want))
    except (OSError, http.client.HTTPException) as error:
        return "POST failed: %s" % error
    finally:
        conn.close()
    return ""


def group_cpu_seconds(pgid):
    """utime + stime of every live process in process group `pgid` (roo run's workers are its children)."""
    total = 0.0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = A.proc_stat_fields("/proc/%s/stat" % name)
            except OSError:
                continue
            if int(fields[2]) == pgid:
                total += (int(fields[11]) + int(fields[12])) / A.CLK_TCK
    return total


def load_argv(opts, port):
    if opts.load == "wrk":
        # --timeout 10s: the thread-per-connection baseline leaves some requests waiting over wrk's default 2 s,
        # and they belong in its latency distribution rather than out of it as errors.
        return ["wrk", "-t2", "-c%d" % CONNECTIONS, "-d%gs" % opts.seconds, "--timeout", "10s", "--latency",
                "-s", os.path.join(HERE, "post.lua"), "http://127.0.0.1:%d/" % port]
    return ["/usr/bin/python3", os.path.join(HERE, "load.py"), "--port", str(port), "--body", BODY,
            "--connections", str(CONNECTIONS), "--seconds", "%g" % opts.seconds]


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


def one_run(opts, system, tag):
    proc, port, log = start(opts, system, tag)
    wait_answering(proc, port, log, NAMES[system])
    wrong = wrong_answers(port)
    if wrong:
        stop(proc)
        return {"invalid": "before the load: " + wrong}
    result = {"loadavg_1min": A.loadavg()}
    cpu0 = group_cpu_seconds(proc.pid)
    done = subprocess.run(load_argv(opts, port), capture_output=True, text=True, timeout=opts.seconds + 60,
                          env=dict(os.environ, BRUCO_BODY=BODY))
    cpu1 = group_cpu_seconds(proc.pid)
    figures = re.findall(r"(?m)^\{.*\}$", done.stdout)
    if done.returncode != 0 or not figures:
        stop(proc)
        return {"invalid": "%s exited %d without figures: %s" % (opts.load, done.returncode,
                                                               (done.stderr or done.stdout).strip()[-400:])}
    got = json.loads(figures[-1])
    seconds = got["duration_us"] / 1e6
    result.update({"rps": got["requests"] / seconds, "requests": got["requests"], "seconds": seconds,
                   "p50_ms": got["p50_us"] / 1e3, "p90_ms": got["p90_us"] / 1e3, "p99_ms": got["p99_us"] / 1e3,
                   "max_ms": got["max_us"] / 1e3, "server_cpu_cores": (cpu1 - cpu0) / seconds,
                   "server_cpu_us_per_request": (cpu1 - cpu0) / max(got["requests"], 1) * 1e6})
    problems = ["%d %s" % (got[k], k.replace("_", " ")) for k in
                ("non_2xx", "connect_errors", "read_errors", "write_errors", "timeouts") if got[k]]
    if not got["requests"]:
        problems.append("no request answered")
    wrong = wrong_answers(port)
    if wrong:
        problems.append("after the load: " + wrong)
    code = stop(proc)
    if system.startswith("roo") and code != 0:
        problems.append("roo run exited %s after SIGTERM (log %s)" % (code, os.path.relpath(log, REPO)))
    if problems:
        result["invalid"] = "; ".join(problems)
    return result


# ---------------------------------------------------------------- NATS (--nats)

def nats_config(tag, url):
    """bench/out/bruco/function-TAG/config.yaml: the function with a nats source and a nats sink."""
    folder = os.path.join(OUT, "function-%s" % tag)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        f.write("processor:\n  handlerPath: %s\n  moduleName: handler\n  workers: 1\n"
                "source: {kind: nats, serverUrl: \"%s\", subject: bench.%s.in}\n"
                "sink: {kind: nats, serverUrl: \"%s\", subject: bench.%s.out}\n" % (FUNCTION, url, tag, url, tag))
    return folder


def start_nats_server():
    """A nats-server on a free port (Debian's, as tests/e2e/nats_fixtures.py runs it) -> its URL."""
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not os.access(binary, os.X_OK):
        raise BenchError("nats-server is not installed: apt-get install -y nats-server (tools/setup installs it)")
    port = free_port()
    log = os.path.join(OUT, "nats-server.log")
    with open(log, "w") as err:
        proc = spawn([binary, "-a", "127.0.0.1", "-p", str(port)], stdout=err, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return "nats://127.0.0.1:%d" % port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    raise BenchError("nats-server did not start on port %d; its log %s ends:\n%s" % (port, log, tail(log)))


def nats_run(opts, system, tag, url):
    log = os.path.join(OUT, "run-nats-%s.log" % tag)
    if system == "roo1":
        argv, env = [opts.roo, "run", nats_config("nats-" + tag, url)], dict(os.environ)
    else:
        argv = [opts.nats_python, os.path.join(HERE, "nats_loop.py"), "--url", url, "--in", "bench.nats-%s.in" % tag,
                "--out", "bench.nats-%s.out" % tag, "--function", FUNCTION]
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    with open(log, "w") as err:
        proc = spawn(argv, stdout=err, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    load = A.loadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([opts.nats_python, os.path.join(HERE, "nats_driver.py"), "--url", url,
                           "--in", "bench.nats-%s.in" % tag, "--out", "bench.nats-%s.out" % tag,
                           "-n", str(opts.nats_messages)], capture_output=True, text=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = stop(proc)
    figures = re.findall(r"(?m)^\{.*\}$", done.stdout)
    if done.returncode != 0 or not figures:
        return {"invalid": "nats_driver exited %d: %s (server log %s ends: %s)" % (
            done.returncode, (done.stderr or done.stdout).strip()[-300:], os.path.relpath(log, REPO),
            tail(log, 3).strip())}
    got = json.loads(figures[-1])
    # The driver's CPU over its whole life (probe included) / the timed part: near 1 means the one Python driver
    # process, not the system, set the pace.
    driver_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    result = {"rate": got["messages"] / got["seconds"], "messages": got["messages"], "seconds": got["seconds"],
              "driver_cpu_cores": driver_cpu / got["seconds"], "loadavg_1min": load}
    problems = [got["wrong"]] if got["wrong"] else []
    if system == "roo1" and code != 0:
        problems.append("roo run exited %s after SIGTERM (log %s)" % (code, os.path.relpath(log, REPO)))
    if problems:
        result["invalid"] = "; ".join(problems)
    return result


def nats_rounds(opts, results):
    url = start_nats_server()
    runs = {s: [] for s in NATS_SYSTEMS}
    for index in range(opts.rounds):
        for s in NATS_SYSTEMS:
            try:
                r = nats_run(opts, s, "%s-%d" % (s, index), url)
            except (BenchError, OSError, subprocess.SubprocessError, ValueError) as error:
                r = {"invalid": "harness error: %s" % error}
            runs[s].append(r)
            if r.get("invalid"):
                say("  nats %s run %d INVALID: %s" % (s, index + 1, r["invalid"]))
            else:
                say("  nats %s run %d: %s messages/s (load %.2f)" % (s, index + 1, fmt(r["rate"]),
                                                                    r["loadavg_1min"]))
    version = subprocess.run([shutil.which("nats-server") or "/usr/sbin/nats-server", "--version"],
                             capture_output=True, text=True).stdout.split()
    results["nats"] = {"messages": opts.nats_messages, "window": 10000, "systems": {},
                       "server": version[-1] if version else "?", "nats_py": opts.nats_py_version}
    for s, rs in runs.items():
        good = [r for r in rs if "rate" in r and not r.get("invalid")]
        entry = {"runs": rs, "valid": len(good)}
        if good:
            entry["rate"] = A.summarise([r["rate"] for r in good])
            entry["driver_cpu_cores"] = A.summarise([r["driver_cpu_cores"] for r in good])
        else:
            entry["why"] = next((r["invalid"] for r in rs if r.get("invalid")), "no run")
        results["nats"]["systems"][s] = entry


def render_nats(nats):
    lines = ["", "NATS -> handler -> NATS (`--nats`): %s messages per run (`{\"id\": i, \"name\": \"bruco\"}`), "
             "at most %s unanswered at a time, every output checked in order; nats-server %s on the same machine; the "
             "driver is one nats-py %s process (its CPU in cores: near 1, it set the pace):" % (
                 fmt(nats["messages"]), fmt(nats["window"]), nats["server"], nats["nats_py"]), "",
             "| system | messages/s: median (min-max) | driver CPU (cores) | valid runs |",
             "| --- | ---: | ---: | ---: |"]
    for s in NATS_SYSTEMS:
        entry = nats["systems"][s]
        valid = "%d/%d" % (entry["valid"], len(entry["runs"]))
        r = entry.get("rate")
        if r:
            lines.append("| %s | %s (%s-%s) | %.2f | %s |" % (NATS_NAMES[s], fmt(r["median"]), fmt(r["min"]),
                                                             fmt(r["max"]), entry["driver_cpu_cores"]["median"], valid))
        else:
            lines.append("| %s | invalid: %s | | %s |" % (NATS_NAMES[s], entry["why"].splitlines()[0][:300], valid))
    roo, peer = [(nats["systems"][s].get("rate") or {}).get("median") for s in NATS_SYSTEMS]
    lines += ["", "| ratio of the medians (messages/s) | value |", "| --- | ---: |",
              "| Roo, 1 worker / nats-py loop | %s |" % ("%.2f" % (roo / peer) if roo and peer else "-")]
    return lines


# ---------------------------------------------------------------- report

def median(results, system, key="rps"):
    entry = results["systems"].get(system) or {}
    return (entry.get(key) or {}).get("median")


def render(results):
    lines = ["Measured %s on %s, %s (load average %.2f at start, %.2f at end), commit %s, %s; load: %s, %d keep-alive "
             "connections, POST of a %d-byte JSON body; %d round(s) of %g s, systems interleaved in each round; "
             "aiohttp %s, Python %s. Command: `%s`." % (
                 results["date"], results["cpu"], results["os"], results["load_start"], results.get("load_end", 0.0),
                 results["commit"], results["build"], results["load_tool"], CONNECTIONS, len(BODY), results["rounds"],
                 results["seconds"], results.get("aiohttp_version") or "not used", results["python"],
                 results["command"]), ""]
    lines += ["| system | requests/s: median (min-max) | p50 ms | p99 ms | server CPU µs / request | server CPU "
              "(cores) | valid runs |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for system in results["order"]:
        entry = results["systems"][system]
        valid = "%d/%d" % (entry["valid"], len(entry["runs"]))
        r = entry.get("rps")
        if r:
            lines.append("| %s | %s (%s-%s) | %.2f | %.2f | %.0f | %.2f | %s |" % (
                NAMES[system], fmt(r["median"]), fmt(r["min"]), fmt(r["max"]), entry["p50_ms"]["median"],
                entry["p99_ms"]["median"], entry["server_cpu_us_per_request"]["median"],
                entry["server_cpu_cores"]["median"], valid))
        else:
            why = [line for line in entry.get("why", "?").splitlines() if line.strip()]
            cell = why[0] if len(why) == 1 else "%s ... %s" % (why[0][:150], why[-1])
            lines.append("| %s | invalid: %s | | | | | %s |" % (NAMES[system], cell[:400], valid))
    if "roo1" in results["order"]:
        lines += render_ratios(results)
    if "nats" in results:
        lines += render_nats(results["nats"])
    return "\n".join(lines) + "\n"


def render_ratios(results):
    roo = median(results, "roo1")
    lines = ["", "| ratio of the medians (requests/s) | value | issue 13's target |", "| --- | ---: | ---: |"]
    for peer in ("aiohttp", "stdlib"):
        other = median(results, peer)
        if peer in results["order"]:
            value = "%.2f" % (roo / other) if roo and other else "-"
            met = "" if not (roo and other) else " (met)" if roo / other >= 3 else " (not met)"
            lines.append("| Roo, 1 worker / %s | %s | >= 3%s |" % (NAMES[peer], value, met))
    if "roo2" in results["order"]:
        roo2 = median(results, "roo2")
        lines.append("| Roo, 2 workers / Roo, 1 worker | %s | |" % ("%.2f" % (roo2 / roo) if roo and roo2 else "-"))
    return lines


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
    p.add_argument("--quick", action="store_true", help="1 round of 3 s")
    p.add_argument("--rounds", type=int, default=0, help="rounds (default 3, --quick 1)")
    p.add_argument("--seconds", type=float, default=0, help="seconds of load per run (default 10, --quick 3)")
    p.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS), help="comma-separated subset of " +
                   ",".join(SYSTEMS))
    p.add_argument("--load", choices=("wrk", "python"), default=None,
                   help="load generator (default wrk; python = bench/bruco/load.py)")
    p.add_argument("--nats", action="store_true",
                   help="also NATS -> handler -> NATS: Roo against a nats-py loop (needs nats-server)")
    p.add_argument("--nats-messages", type=int, default=0, help="messages per NATS run (default 200,000; --quick "
                   "50,000)")
    p.add_argument("--roo", default=os.path.join(REPO, "build", "src", "cli", "roo"), help="roo binary")
    p.add_argument("--no-docs", action="store_true", help="do not rewrite the Bruco block of docs/benchmarks.md")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object instead of the table")
    opts = p.parse_args()
    opts.rounds = opts.rounds or (1 if opts.quick else 3)
    opts.seconds = opts.seconds or (3.0 if opts.quick else 10.0)
    opts.nats_messages = opts.nats_messages or (50000 if opts.quick else 200000)
    opts.systems = [s for s in opts.systems.split(",") if s]
    unknown = [s for s in opts.systems if s not in SYSTEMS]
    if unknown:
        p.error("unknown system %s (known: %s)" % (", ".join(unknown), ", ".join(SYSTEMS)))
    return opts


def check_tools(opts):
    """One clear line for what is missing; the aiohttp virtualenv is made when missing."""
    if opts.load is None:
        opts.load = "wrk"
    if opts.load == "wrk" and not shutil.which("wrk"):
        raise BenchError("wrk is not installed: apt-get install -y wrk (or --load python for the slower Python "
                         "load generator)")
    if any(s.startswith("roo") for s in opts.systems) and not os.access(opts.roo, os.X_OK):
        raise BenchError("no roo binary at %s: cmake --build build -j2 --target roo (or --roo PATH)" % opts.roo)
    if opts.nats:
        opts.nats_python, opts.nats_py_version = ensure_venv(NATS_VENV, "nats-py", "nats-py")
    if "aiohttp" in opts.systems:
        opts.aiohttp_python, version = ensure_venv(AIOHTTP_VENV, "aiohttp", "aiohttp")
        return version
    return None


def main():
    opts = parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.makedirs(OUT, exist_ok=True)
    began = time.monotonic()
    aiohttp_version = check_tools(opts)
    machine = A.machine_info(opts) if hasattr(A, "machine_info") else {}
    results = {"command": " ".join(["bench/bruco/run.py"] + sys.argv[1:]),
               "commit": machine.get("commit") or commit_of(),
               "build": machine.get("build", "?"), "os": machine.get("os", "?"),
               "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "cpu": machine.get("cpu") or "%d cores" % os.cpu_count(), "load_start": A.loadavg(),
               "load_tool": "wrk -t2 -c%d --timeout 10s --latency (bench/bruco/post.lua)" % CONNECTIONS
               if opts.load == "wrk" else
               "bench/bruco/load.py (Python asyncio, %d connections; a floor, wrk was not used)" % CONNECTIONS,
               "rounds": opts.rounds, "seconds": opts.seconds, "aiohttp_version": aiohttp_version,
               "python": "%d.%d.%d" % sys.version_info[:3], "roo": os.path.relpath(opts.roo, REPO),
               "order": opts.systems, "body": BODY, "systems": {}}
    if results["load_start"] >= 1.5:
        say("warning: load average %.2f: the machine is not quiet, the figures will move" % results["load_start"])
    runs = {s: [] for s in opts.systems}
    for index in range(opts.rounds):
        for s in opts.systems:
            tag = "%s-%d" % (s, index)
            try:
                r = one_run(opts, s, tag)
            except (BenchError, OSError, subprocess.SubprocessError, ValueError) as error:
                r = {"invalid": "harness error: %s" % error}
            finally:
                cleanup_children()
            runs[s].append(r)
            if r.get("invalid"):
                say("  %s run %d INVALID: %s" % (s, index + 1, r["invalid"]))
            else:
                say("  %s run %d: %s requests/s, p50 %.2f ms, p99 %.2f ms, %.0f CPU µs/request (load %.2f)" % (
                    s, index + 1, fmt(r["rps"]), r["p50_ms"], r["p99_ms"], r["server_cpu_us_per_request"],
                    r["loadavg_1min"]))
    for s, rs in runs.items():
        good = [r for r in rs if "rps" in r and not r.get("invalid")]
        entry = {"runs": rs, "valid": len(good)}
        if good:
            for key in ("rps", "p50_ms", "p99_ms", "server_cpu_us_per_request", "server_cpu_cores"):
                entry[key] = A.summarise([r[key] for r in good])
        else:
            entry["why"] = next((r["invalid"] for r in rs if r.get("invalid")), "no run")
        results["systems"][s] = entry
    if opts.nats:
        try:
            nats_rounds(opts, results)
        finally:
            cleanup_children()
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
        say("rewrote the Bruco block of docs/benchmarks.md")
    say("(%.0f s; results in bench/out/bruco/results.{md,json}, logs in bench/out/bruco/)" % results["elapsed_s"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print("bench/bruco: %s" % error, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        cleanup_children()
