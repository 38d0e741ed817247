#!/usr/bin/python3
"""Kafka -> system -> Kafka: Roo against the broker's own limit, Bytewax and Quix Streams, on one real broker.

    /usr/bin/python3 bench/kafka/run.py            # ~10 min: prints the table, rewrites docs/benchmarks.md's Kafka block
    /usr/bin/python3 bench/kafka/run.py --quick    # ~2 min: 200,000 messages, 3 s latency rows

Everything in this one invocation, on this machine (see bench/README.md, "Kafka"):

1. Setup: builds bench/kafka/kafka_copy.cpp and kafka_load.cpp into bench/out/kafka/ (g++ -O2, Debian's librdkafka
   2.0.2), installs the broker's jars (tools/kafka/install), pip-installs `bytewax[kafka]` into bench/out/venv-bytewax
   and `quixstreams` into bench/out/venv-quix when missing, and starts a fresh broker in bench/out/kafka-broker
   (tools/kafka/broker; stopped at the end, also on failure or ^C).
2. Data: N alphabet votes (bench/workloads/alphabet: value `letter | u32 BE votes`, key the letter), produced by
   kafka_load into a topic of --partitions partitions. Produce rate: --runs fresh topics (the first is the input);
   consume rate: --runs reads of the input (kafka_load read, no group).
3. Throughput, --runs rounds, each running every system once on each workload (passthrough: copy every message
   with its key; alphabet: count votes per letter, one output per vote with the letter's running total):
   the limit (kafka_copy: a plain librdkafka consume -> produce loop in C++, passthrough only), Roo 1 worker,
   Roo 2 workers, Roo 1 worker exactly-once (--checkpoint-dir, 1 s checkpoints; Kafka transactions), Bytewax
   1 worker (its Kafka connectors), Quix Streams (one process). Each run writes to a fresh output topic whose
   timestamps the broker sets (message.timestamp.type=LogAppendTime); kafka_load reads it (read_committed) until
   N outputs arrived, then the system is stopped (SIGTERM). messages/s = N / (the moment the N-th output is read -
   the first output's append time), both on this machine's clock: start-up, group join and shut-down are left out
   for every system alike, and exactly-once outputs count once their transaction committed. Beside it, the
   sustained rate: N / (the last output's append time - the first's), which leaves out the last outputs' wait for
   their commit and the reader's catching up after it (a fixed cost at the end of a run, about one checkpoint). A run counts
   only when exactly N outputs arrived, none more, and they are right (passthrough: the same multiset of values
   as the input; alphabet: N lines and every letter's final total).
4. Latency at half load, per system: passthrough reading a fresh topic; kafka_load latency produces
   0.5 x the system's own median passthrough rate (--latency-loads), each value stamped with its creation time, and reads the
   output: latency = read time - creation time, p50/p99/p99.9 over the messages created after a warm-up.
Roo rows need a roo binary whose Kafka source and sink work (--roo, default build/src/cli/roo); when it refuses
the apps, the rows say "not available" with its reason.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
from processes import (BenchError, cleanup_children, commit_of, cpu_seconds, free_port,  # noqa: E402
                       machine_cpu_seconds, spawn, tail, tree_cpu_seconds)

OUT = os.path.join(BENCH, "out", "kafka")
BROKER_DIR = os.path.join(BENCH, "out", "kafka-broker")
BROKER = os.path.join(REPO, "tools", "kafka", "broker")
DOCS = os.path.join(REPO, "docs", "benchmarks.md")
DOCS_BEGIN = "<!-- bench/kafka results: begin (written by bench/kafka/run.py; edit the text around it, not inside) -->"
DOCS_END = "<!-- bench/kafka results: end -->"
VENVS = {"bytewax": (os.path.join(BENCH, "out", "venv-bytewax"), "bytewax[kafka]", "bytewax"),
         "quix": (os.path.join(BENCH, "out", "venv-quix"), "quixstreams", "quixstreams")}
WORKLOADS = ("passthrough", "alphabet")
SYSTEMS = ("limit", "roo1", "roo2", "roo1eo", "bytewax", "quix")
ROO_SYSTEMS = ("roo1", "roo2", "roo1eo")
FAST_SYSTEMS = ("limit",) + ROO_SYSTEMS  # read the larger input (--fast-events)
NAMES = {"limit": "limit: librdkafka copy loop (C++)", "roo1": "Roo, 1 worker", "roo2": "Roo, 2 workers",
         "roo1eo": "Roo, 1 worker, exactly-once (1 s checkpoints)", "bytewax": "Bytewax, 1 worker",
         "quix": "Quix Streams, 1 process"}
sys.path.insert(0, os.path.join(BENCH, "workloads", "alphabet"))
import data as alphabet_data  # noqa: E402


def say(text):
    print(text, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def summarise(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)} if values else None


# ---------------------------------------------------------------- setup

def build_tools():
    """bench/out/kafka/{kafka_copy,kafka_load}, rebuilt when older than their source."""
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], capture_output=True, text=True)
    if flags.returncode != 0:
        raise BenchError("pkg-config rdkafka failed (apt-get install librdkafka-dev): %s" % flags.stderr.strip())
    tools = {}
    for name in ("kafka_copy", "kafka_load"):
        source, binary = os.path.join(HERE, name + ".cpp"), os.path.join(OUT, name)
        if not os.path.exists(binary) or os.path.getmtime(binary) < os.path.getmtime(source):
            argv = ["g++", "-std=c++20", "-O2", "-Wall", "-Wextra", "-o", binary, source, "-pthread"] + flags.stdout.split()
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                raise BenchError("building %s failed:\n%s\n%s" % (binary, " ".join(argv), done.stderr))
        tools[name] = binary
    return tools


def ensure_venv(peer):
    """The peer's virtualenv with its package from PyPI; returns {"python", "version", "librdkafka"} or {"error"}."""
    venv, requirement, dist = VENVS[peer]
    python = os.path.join(venv, "bin", "python")
    probe = ("from importlib.metadata import version; import confluent_kafka; "
             "print(version(%r), version('confluent-kafka'), confluent_kafka.libversion()[0])" % dist)

    def versions():
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True)
        return done.stdout.split() if done.returncode == 0 else None

    if not (os.path.exists(python) and versions()):
        say("setup: pip-installing %s into %s" % (requirement, os.path.relpath(venv, REPO)))
        made = subprocess.run(["/usr/bin/python3", "-m", "venv", venv], capture_output=True, text=True)
        if made.returncode != 0:
            return {"error": "python3 -m venv failed: " + (made.stderr or made.stdout).strip()[-400:]}
        pip = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", requirement], capture_output=True,
                             text=True, timeout=900)
        if pip.returncode != 0:
            return {"error": "pip install %s failed: %s" % (requirement, (pip.stderr or pip.stdout).strip()[-600:])}
    found = versions()
    if not found:
        return {"error": "%s does not import %s and confluent_kafka" % (python, dist)}
    return {"python": python, "version": found[0], "confluent_kafka": found[1], "librdkafka": found[2]}


class Broker:
    """A fresh single-node broker in bench/out/kafka-broker (its old data removed), stopped by stop()."""

    def __init__(self):
        install = subprocess.run([os.path.join(REPO, "tools", "kafka", "install")], capture_output=True, text=True)
        if install.returncode != 0:
            raise BenchError("tools/kafka/install failed:\n%s" % install.stderr.strip())
        if os.path.exists(os.path.join(BROKER_DIR, "broker.pid")):
            subprocess.run([BROKER, "stop", BROKER_DIR], capture_output=True)
        shutil.rmtree(BROKER_DIR, ignore_errors=True)
        self.started = False
        port, controller = free_port(), free_port()
        done = subprocess.run([BROKER, "start", BROKER_DIR, str(port), str(controller)], capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            raise BenchError("tools/kafka/broker start failed:\n%s" % done.stderr.strip())
        self.started = True
        self.address = done.stdout.strip().splitlines()[-1]

    def stop(self):
        if self.started:
            subprocess.run([BROKER, "stop", BROKER_DIR], capture_output=True, timeout=60)
            self.started = False


def create_topics(broker, names, partitions, log_append_time):
    """Creates the topics (librdkafka's admin API through /usr/bin/python3's confluent_kafka)."""
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": broker, "log_level": 4})  # not its info line at destruction
    config = {"message.timestamp.type": "LogAppendTime"} if log_append_time else {}
    for name, future in admin.create_topics([NewTopic(n, partitions, 1, config=config) for n in names]).items():
        future.result(30)


# ---------------------------------------------------------------- one run

def system_argv(opts, system, workload, in_topic, out_topic, group, count, tail_input, tag):
    """The command line of `system` reading in_topic and writing out_topic; None when it has no such workload."""
    brokers = opts.broker
    if system == "limit":
        return [opts.tools["kafka_copy"], brokers, in_topic, out_topic, group, str(count)] \
            if workload == "passthrough" else None
    if system == "bytewax":
        return [opts.peers["bytewax"]["python"], os.path.join(HERE, "peers", "bytewax_kafka.py"), "--workload",
                workload, "--brokers", brokers, "--in", in_topic, "--out", out_topic] + (["--tail"] if tail_input else [])
    if system == "quix":
        state = os.path.join(OUT, "quix-state", tag)
        shutil.rmtree(state, ignore_errors=True)
        return [opts.peers["quix"]["python"], os.path.join(HERE, "peers", "quix_kafka.py"), "--workload", workload,
                "--brokers", brokers, "--in", in_topic, "--out", out_topic, "--group", group, "--state-dir", state]
    argv = [opts.roo, "run"]
    if system == "roo2":
        argv += ["--workers", "2"]
    if system == "roo1eo":
        folder = os.path.join(OUT, "checkpoints", tag)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)  # roo run refuses a checkpoint directory that does not exist
        argv += ["--checkpoint-dir", folder, "--checkpoint-interval", opts.checkpoint_interval]
    return argv + [os.path.join(HERE, "apps", workload + ".py"), "--brokers", brokers, "--in-topic", in_topic,
                   "--out-topic", out_topic, "--group", group]


def stop_process(proc, timeout=20):
    """SIGTERM (the process group), then SIGKILL after timeout; returns the exit code."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "killed after %d s" % timeout
    return proc.returncode


def check_output(workload, path, n):
    """None when the values read from the output (frames) are exactly right, else what is wrong."""
    with open(path, "rb") as f:
        raw = f.read()
    values, at = [], 0
    while at < len(raw):
        (size,) = struct.unpack_from(">I", raw, at)
        values.append(raw[at + 4:at + 4 + size])
        at += 4 + size
    if workload == "alphabet":
        return alphabet_data.check(b"".join(values), n)
    want = sorted(struct.pack(">cI", letter, votes) for letter, votes in alphabet_data.records(n))
    return None if sorted(values) == want else "the output values are not the input's (passthrough)"


def _has_output(opts, topic):
    done = subprocess.run([opts.tools["kafka_load"], "read", opts.broker, topic, "1", "-", "2", "2", "0"],
                          capture_output=True, text=True, timeout=60)
    return done.returncode == 0


def tput_run(opts, system, workload, index):
    """One throughput run; a dict with "rate", or "invalid" (or "unavailable" for a Roo that cannot run Kafka)."""
    tag = "%s-%s-%d" % (workload, system, index)
    out_topic = "out-" + tag
    create_topics(opts.broker, [out_topic], opts.partitions, True)
    events, in_topic = (opts.fast_events, opts.fast_input_topic) if system in FAST_SYSTEMS else \
        (opts.events, opts.input_topic)
    argv = system_argv(opts, system, workload, in_topic, out_topic, "group-" + tag, events, False, tag)
    log_path = os.path.join(OUT, "run-%s.log" % tag)
    frames = os.path.join(OUT, "run-%s.out" % tag)
    load = loadavg()
    broker_cpu0, machine0 = broker_cpu_seconds(), machine_cpu_seconds()
    with open(log_path, "wb") as log:
        proc = spawn(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    reader = spawn([opts.tools["kafka_load"], "read", opts.broker, out_topic, str(events), frames,
                    str(opts.start_timeout), str(opts.idle_timeout), str(opts.grace_ms)],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while reader.poll() is None:
        # Failed before N outputs arrived (Roo and Quix never stop by themselves; the limit and Bytewax may end
        # before the reader has read everything, with status 0).
        code = proc.poll()
        if code is not None and (code != 0 or system in ROO_SYSTEMS or system == "quix"):
            reader.kill()
            reader.wait()
            text = tail(log_path, 8).strip()[-600:]
            if system in ROO_SYSTEMS and not _has_output(opts, out_topic):
                return {"unavailable": "exited %s with no output: %s" % (code, text)}
            return {"invalid": "exited %s before %d outputs; log %s ends:\n%s" % (
                code, events, os.path.relpath(log_path, REPO), text)}
        time.sleep(0.05)
    got_out, got_err = reader.communicate()
    system_cpu = None
    if proc.poll() is None:  # one that ended by itself (the limit, Bytewax) is gone from /proc: no figure
        try:
            system_cpu = tree_cpu_seconds(proc.pid)  # roo2's workers are the launcher's children
        except OSError:
            pass
    broker_cpu1, machine1 = broker_cpu_seconds(), machine_cpu_seconds()
    code = stop_process(proc)
    try:
        got = json.loads(got_out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"invalid": "the reader printed no result: %s" % got_err.strip()[-400:]}
    result = {"count": got["count"], "extra": got["extra"], "loadavg_1min": load, "exit": code,
              "ts_type": got["ts_type"],
              # CPU s per million messages, from the system's start to its last output read: the system's, the
              # broker's, and every core's busy share meanwhile (the reader and anything else on the machine too).
              "cpu_s_per_m": system_cpu * 1e6 / events if system_cpu is not None else None,
              "broker_cpu_s_per_m": (broker_cpu1 - broker_cpu0) * 1e6 / events
              if broker_cpu0 is not None and broker_cpu1 is not None else None,
              "machine_busy": (machine1[0] - machine0[0]) / max(machine1[1] - machine0[1], 1e-9)}
    if got["error"] or got["count"] != events:
        result["invalid"] = "%d of %d outputs (%s); log %s ends:\n%s" % (
            got["count"], events, got["error"], os.path.relpath(log_path, REPO), tail(log_path, 8))
        return result
    if got["extra"]:
        result["invalid"] = "%d outputs more than %d (duplicates)" % (got["extra"], events)
        return result
    wrong = check_output(workload, frames, events)
    if wrong:
        result["invalid"] = wrong
        return result
    if code != 0:
        result["invalid"] = "exit status %s after SIGTERM; log %s" % (code, os.path.relpath(log_path, REPO))
        return result
    os.remove(frames)
    # From the first output's append to the moment the N-th is readable (read_committed: for exactly-once, when
    # its transaction committed), both on this machine's wall clock; the appends' own span stays in the JSON.
    span = max(got["last_read_ms"] - got["ts_min"], 1) / 1000.0
    append_span = max(got["ts_max"] - got["ts_min"], 1) / 1000.0
    # The sustained rate: from the first output's append to the last one's, leaving out the wait of the last outputs
    # for their commit (exactly-once) and the reader's catching up after it.
    result.update({"seconds": span, "rate": events / span, "append_span_s": append_span,
                   "append_rate": events / append_span})
    return result


def broker_cpu_seconds():
    """The broker JVM's CPU seconds so far (tools/kafka/broker writes its pid), or None."""
    try:
        with open(os.path.join(BROKER_DIR, "broker.pid")) as f:
            return cpu_seconds(int(f.read().split()[0]))
    except (OSError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------- limits of the broker itself

def input_file(events):
    """The alphabet votes of `events` messages, as kafka_load produce reads them (made once, then kept)."""
    path = os.path.join(OUT, "alphabet_%d.frames" % events)
    if not os.path.exists(path) or os.path.getsize(path) != 9 * events:
        pack = struct.Struct(">IcI").pack
        with open(path + ".tmp", "wb") as f:
            f.write(b"".join(pack(5, letter, votes) for letter, votes in alphabet_data.records(events)))
        os.replace(path + ".tmp", path)
    return path


def produce_fast_input(opts):
    """The larger input of the fast systems (the limit and Roo): one topic, produced once."""
    create_topics(opts.broker, ["input-fast"], opts.partitions, False)
    done = subprocess.run([opts.tools["kafka_load"], "produce", opts.broker, "input-fast",
                           input_file(opts.fast_events)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise BenchError("kafka_load produce failed: %s" % done.stderr.strip())
    opts.fast_input_topic = "input-fast"


def produce_input(opts, results):
    """Writes the input file, produces it --runs times (fresh topics; the first is the input); the produce rates."""
    path = input_file(opts.events)
    rates = []
    for index in range(opts.runs):
        topic = "input-%d" % index
        create_topics(opts.broker, [topic], opts.partitions, False)
        done = subprocess.run([opts.tools["kafka_load"], "produce", opts.broker, topic, path], capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            raise BenchError("kafka_load produce failed: %s" % done.stderr.strip())
        got = json.loads(done.stdout)
        rates.append(got["messages"] / got["seconds"])
        say("  produce run %d: %s messages/s" % (index + 1, fmt(rates[-1])))
    opts.input_topic = "input-0"
    results["produce"] = {"rate": summarise(rates), "runs": rates}
    rates = []
    for index in range(opts.runs):
        done = subprocess.run([opts.tools["kafka_load"], "read", opts.broker, opts.input_topic, str(opts.events), "-",
                               "30", "10", "0"], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise BenchError("kafka_load read failed: %s %s" % (done.stdout, done.stderr.strip()))
        got = json.loads(done.stdout)
        rates.append(got["count"] / max(got["seconds"], 1e-6))
        say("  consume run %d: %s messages/s" % (index + 1, fmt(rates[-1])))
    results["consume"] = {"rate": summarise(rates), "runs": rates}


# ---------------------------------------------------------------- latency

def latency_row(opts, system, rate, name):
    """Passthrough on fresh topics at `rate` messages/s; the kafka_load latency result, or {"invalid"}."""
    tag = "latency-%s" % name
    in_topic, out_topic = "in-" + tag, "out-" + tag
    create_topics(opts.broker, [in_topic, out_topic], opts.partitions, False)
    argv = system_argv(opts, system, "passthrough", in_topic, out_topic, "group-" + tag, 0, True, tag)
    log_path = os.path.join(OUT, "run-%s.log" % tag)
    with open(log_path, "wb") as log:
        proc = spawn(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        # Ready when one probe message (1 byte: the latency reader skips it) has come through.
        probe = os.path.join(OUT, "probe.frames")
        with open(probe, "wb") as f:
            f.write(struct.pack(">I", 1) + b"p")
        subprocess.run([opts.tools["kafka_load"], "produce", opts.broker, in_topic, probe], capture_output=True,
                       check=True, timeout=60)
        ready = subprocess.run([opts.tools["kafka_load"], "read", opts.broker, out_topic, "1", "-",
                                str(opts.start_timeout), "10", "0"], capture_output=True, text=True,
                               timeout=opts.start_timeout + 30)
        if ready.returncode != 0 or proc.poll() is not None:
            return {"invalid": "not ready (the probe did not come through); log %s ends:\n%s" % (
                os.path.relpath(log_path, REPO), tail(log_path, 8))}
        done = subprocess.run([opts.tools["kafka_load"], "latency", opts.broker, in_topic, out_topic, str(int(rate)),
                               str(opts.latency_seconds + opts.latency_warmup), str(opts.latency_warmup)],
                              capture_output=True, text=True, timeout=opts.latency_seconds + 120)
        if done.returncode != 0:
            return {"invalid": "kafka_load latency failed: %s" % done.stderr.strip()[-400:]}
        got = json.loads(done.stdout)
        got["rate"] = rate
        if got["received"] != got["sent"]:
            got["invalid"] = "%d of %d messages came through" % (got["received"], got["sent"])
        return got
    finally:
        stop_process(proc)


# ---------------------------------------------------------------- report

def fmt(x):
    return "-" if x is None else "{:,.0f}".format(x)


def median_rate(results, workload, system, key="rate"):
    entry = results["throughput"].get(workload, {}).get(system) or {}
    return (entry.get(key) or {}).get("median")


def ratio_text(a, b):
    return "%.2f" % (a / b) if a and b else "-"


def paired_ratio(results, workload, key="rate"):
    """roo1eo / roo1 of each round in which both runs are valid: {"median", "min", "max", "rounds"}, or None.
    Paired, because the shared cores (the broker's JVM on them too) move at-least-once alone by 640k-900k
    messages/s from one invocation to the next, more than exactly-once costs; the two runs of a round share that
    round's machine. In the results' JSON as "exactly_once_paired" (bench/run's target row reads it there)."""
    rows = results["throughput"].get(workload, {})
    on, off = (rows.get("roo1eo") or {}).get("runs", []), (rows.get("roo1") or {}).get("runs", [])
    ratios = [a[key] / b[key] for a, b in zip(on, off)
              if key in a and key in b and not a.get("invalid") and not b.get("invalid")]
    if not ratios:
        return None
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios), "rounds": len(ratios)}


def paired_ratio_text(results, workload, key="rate"):
    paired = paired_ratio(results, workload, key)
    return "%.2f (%.2f-%.2f)" % (paired["median"], paired["min"], paired["max"]) if paired else "-"


def render(results):
    lines = ["Measured %s on %s (load average %.1f at start, %.1f at end), commit %s, %s messages of %d bytes "
             "(alphabet votes keyed by letter; the limit and Roo read %s, so that their runs last seconds), "
             "%d partitions, %d runs per row (median, min-max); broker Apache "
             "Kafka 4.4.0 (tools/kafka), clients librdkafka 2.0.2 (limit, load) and the peers' own (below). "
             "Command: `%s`." % (results["date"], results["cpu"], results["load_start"], results["load_end"],
                                 results["commit"], fmt(results["events"]), 5,
                                 fmt(results.get("fast_events", results["events"])), results["partitions"],
                                 results["runs"], results["command"]), ""]
    lines += ["| messages/s | passthrough | alphabet |", "| --- | ---: | ---: |"]
    for key, text in (("produce", "broker: produce (kafka_load, acks all)"),
                      ("consume", "broker: consume (kafka_load, no group)")):
        rate = results[key]["rate"]
        lines.append("| %s | %s (%s-%s) | |" % (text, fmt(rate["median"]), fmt(rate["min"]), fmt(rate["max"])))
    for system in results["systems"]:
        cells = []
        for workload in WORKLOADS:
            entry = results["throughput"].get(workload, {}).get(system)
            if entry is None:
                cells.append("")
            elif entry.get("unavailable"):
                cells.append("not available")
            elif entry.get("rate"):
                r = entry["rate"]
                bad = entry["invalid_runs"]
                cells.append("%s (%s-%s)%s" % (fmt(r["median"]), fmt(r["min"]), fmt(r["max"]),
                                               ", %d invalid" % bad if bad else ""))
            else:
                cells.append("invalid: %s" % entry.get("why", "?").splitlines()[0][:120])
        lines.append("| %s | %s |" % (NAMES[system], " | ".join(cells)))
    unavailable = results.get("roo_unavailable")
    if unavailable:
        lines += ["", "Roo rows not available: `%s` refused the benchmark apps: %s" % (
            results["roo"], unavailable.splitlines()[-1][:300] if unavailable.strip() else "?")]
    lines += ["", "| ratio (of medians unless it says otherwise) | value | target |", "| --- | ---: | ---: |"]
    limit = median_rate(results, "passthrough", "limit")
    for system in ("roo1", "roo2"):
        lines.append("| %s / limit, passthrough | %s | >= 0.7 |" % (NAMES[system], ratio_text(
            median_rate(results, "passthrough", system), limit)))
    for peer in ("bytewax", "quix"):
        lines.append("| Roo, 1 worker / %s, alphabet | %s | >= 3 |" % (NAMES[peer], ratio_text(
            median_rate(results, "alphabet", "roo1"), median_rate(results, "alphabet", peer))))
    for workload in WORKLOADS:
        lines.append("| exactly-once / at-least-once (Roo, 1 worker), %s: the rounds' paired ratios, median "
                     "(min-max) | %s | >= 0.9 |" % (workload, paired_ratio_text(results, workload)))
    for workload in WORKLOADS:
        lines.append("| the same, ratio of the two medians, %s | %s | |" % (workload, ratio_text(
            median_rate(results, workload, "roo1eo"), median_rate(results, workload, "roo1"))))
    for workload in WORKLOADS:
        lines.append("| the same, sustained (first to last append), paired, %s | %s | |" % (
            workload, paired_ratio_text(results, workload, "append_rate")))
    for peer in ("bytewax", "quix"):
        lines.append("| %s / limit, passthrough | %s | |" % (NAMES[peer], ratio_text(
            median_rate(results, "passthrough", peer), limit)))
    lines += ["", "CPU per million messages (median over the valid runs, from the system's start to its last output "
              "read): the system's own process, the broker's JVM, and how busy the machine's cores were meanwhile "
              "(every process on it, the output reader's too):", "",
              "| system | workload | system CPU s/M | broker CPU s/M | cores busy |", "| --- | --- | ---: | ---: | ---: |"]
    for system in results["systems"]:
        for workload in WORKLOADS:
            runs = [r for r in ((results["throughput"].get(workload, {}).get(system) or {}).get("runs") or [])
                    if "rate" in r and not r.get("invalid")]
            if not runs:
                continue
            cell = lambda key, form: form % statistics.median([r[key] for r in runs]) \
                if all(r.get(key) is not None for r in runs) else "-"
            lines.append("| %s | %s | %s | %s | %s |" % (NAMES[system], workload, cell("cpu_s_per_m", "%.2f"),
                                                        cell("broker_cpu_s_per_m", "%.2f"),
                                                        cell("machine_busy", "%.2f")))
    if results.get("latency"):
        lines += ["", "Latency Kafka -> Kafka (passthrough), offered a share of the system's own median passthrough "
                  "rate for %g s after a %g s warm-up (the load generator and reader run on the same cores):" % (
                      results["latency_seconds"], results["latency_warmup"]), "",
                  "| system | load | offered msg/s | p50 ms | p99 ms | p99.9 ms | max ms | messages |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for row in results["latency"]:
            head = "| %s | %.0f %% | %s |" % (NAMES[row["system"]], 100 * row["load"], fmt(row.get("rate")))
            if "p50_ms" in row and not row.get("invalid"):
                lines.append("%s %.1f | %.1f | %.1f | %.1f | %s |" % (
                    head, row["p50_ms"], row["p99_ms"], row["p999_ms"], row["max_ms"], fmt(row["measured"])))
            else:
                text = row.get("invalid") or row.get("unavailable") or "?"
                lines.append("%s %s | | | | |" % (head, text.splitlines()[0][:160]))
    peers = results["peers"]
    lines += ["", "Peers: %s." % "; ".join(
        "%s %s (confluent-kafka %s, librdkafka %s, PyPI)" % (
            name, p["version"], p["confluent_kafka"], p["librdkafka"]) if "version" in p else
        "%s not available: %s" % (name, p["error"][:200]) for name, p in sorted(peers.items()))]
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
    p.add_argument("--quick", action="store_true", help="200,000 messages, 3 s latency rows (about 2 min)")
    p.add_argument("--events", type=int, default=0, help="messages in the input (default 1,000,000; --quick 200,000)")
    p.add_argument("--fast-events", type=int, default=0,
                   help="messages in the input of the limit and Roo (default 30,000,000; --quick 2,000,000): a run "
                        "of theirs must last many checkpoint intervals, or the exactly-once row measures the wait for "
                        "its last commit (output becomes visible once per checkpoint: at 10,000,000, about 11 s of "
                        "alphabet, that fixed wait cost 5-9 %% of the rate)")
    p.add_argument("--runs", type=int, default=3, help="runs per row (default 3)")
    p.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS))
    p.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset of passthrough,alphabet")
    p.add_argument("--roo", default=os.path.join(REPO, "build", "src", "cli", "roo"), help="roo binary")
    p.add_argument("--checkpoint-interval", default="1s", help="roo1eo's --checkpoint-interval (default 1s)")
    p.add_argument("--latency-loads", default="0.1,0.5",
                   help="offered loads of the latency rows, as shares of each system's passthrough rate "
                        "(default 0.1,0.5)")
    p.add_argument("--latency-seconds", type=float, default=0, help="measured seconds per latency row (10, --quick 3)")
    p.add_argument("--latency-warmup", type=float, default=1.0, help="seconds sent before measuring (default 1)")
    p.add_argument("--start-timeout", type=int, default=90, help="seconds a system may take to its first output")
    p.add_argument("--idle-timeout", type=int, default=20, help="seconds without output before a run is invalid")
    p.add_argument("--grace-ms", type=int, default=500, help="ms to keep reading after N outputs, for duplicates")
    p.add_argument("--no-latency", action="store_true")
    p.add_argument("--no-docs", action="store_true", help="do not rewrite the Kafka block of docs/benchmarks.md")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object instead of the table")
    opts = p.parse_args()
    opts.events = opts.events or (200_000 if opts.quick else 1_000_000)
    opts.fast_events = opts.fast_events or (2_000_000 if opts.quick else 30_000_000)
    opts.latency_seconds = opts.latency_seconds or (3.0 if opts.quick else 10.0)
    opts.latency_loads = [float(x) for x in opts.latency_loads.split(",") if x]
    return opts


def main():
    opts = parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.makedirs(OUT, exist_ok=True)
    began = time.monotonic()
    systems = [s for s in opts.systems.split(",") if s]
    workloads = [w for w in opts.workloads.split(",") if w]
    results = {"command": " ".join(["bench/kafka/run.py"] + sys.argv[1:]), "commit": commit_of(),
               "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "cpu": "%d cores" % os.cpu_count(), "load_start": loadavg(), "events": opts.events,
               "partitions": opts.partitions, "runs": opts.runs, "roo": os.path.relpath(opts.roo, REPO),
               "throughput": {w: {} for w in workloads}, "peers": {}}
    opts.tools = build_tools()
    opts.peers = {}
    for peer in ("bytewax", "quix"):
        if peer in systems:
            results["peers"][peer] = opts.peers[peer] = ensure_venv(peer)
            if "error" in opts.peers[peer]:
                say("%s: not available: %s" % (peer, opts.peers[peer]["error"]))
                systems.remove(peer)
    if not os.access(opts.roo, os.X_OK):
        results["roo_unavailable"] = "no roo binary at %s" % opts.roo
    results["systems"] = systems
    broker = Broker()
    try:
        opts.broker = broker.address
        say("broker: %s (bench/out/kafka-broker)" % opts.broker)
        say("input: %s messages" % fmt(opts.events))
        produce_input(opts, results)
        say("input of the limit and Roo: %s messages" % fmt(opts.fast_events))
        produce_fast_input(opts)
        results["fast_events"] = opts.fast_events
        runs = {(w, s): [] for w in workloads for s in systems}
        for index in range(opts.runs):
            for w in workloads:
                # In turn forwards and backwards, so that a drift of the machine during a round favours no system
                # (the exactly-once ratio pairs roo1 and roo1eo of the same round).
                for s in (systems if index % 2 == 0 else systems[::-1]):
                    if s == "limit" and w != "passthrough":
                        continue
                    if s in ROO_SYSTEMS and results.get("roo_unavailable"):
                        runs[(w, s)].append({"unavailable": results["roo_unavailable"]})
                        continue
                    try:
                        r = tput_run(opts, s, w, index)
                    except (BenchError, OSError, subprocess.SubprocessError, ValueError) as error:
                        r = {"invalid": "harness error: %s" % error}
                    if r.get("unavailable"):
                        results["roo_unavailable"] = r["unavailable"]
                        say("  %s: Roo cannot run the Kafka apps: %s" % (s, r["unavailable"].splitlines()[-1]))
                    elif r.get("invalid"):
                        say("  %s %s run %d INVALID: %s" % (w, s, index + 1, r["invalid"]))
                    else:
                        say("  %s %s run %d: %s messages/s (load %.1f)" % (w, s, index + 1, fmt(r["rate"]),
                                                                            r["loadavg_1min"]))
                    runs[(w, s)].append(r)
        for (w, s), rs in runs.items():
            if not rs:
                continue
            good = [r["rate"] for r in rs if "rate" in r and not r.get("invalid")]
            appends = [r["append_rate"] for r in rs if "append_rate" in r and not r.get("invalid")]
            entry = {"rate": summarise(good), "append_rate": summarise(appends) if appends else None,
                     "invalid_runs": sum(1 for r in rs if r.get("invalid")), "runs": rs}
            if any(r.get("unavailable") for r in rs):
                entry["unavailable"] = True
            elif not good:
                entry["why"] = next((r["invalid"] for r in rs if r.get("invalid")), "no run")
            results["throughput"][w][s] = entry
        results["exactly_once_paired"] = {w: paired_ratio(results, w) for w in workloads}
        if not opts.no_latency and "passthrough" in workloads:
            results["latency_seconds"], results["latency_warmup"] = opts.latency_seconds, opts.latency_warmup
            results["latency"] = []
            for load in opts.latency_loads:
                for s in systems:
                    rate = median_rate(results, "passthrough", s)
                    if not rate:
                        why = "not available" if s in ROO_SYSTEMS and results.get("roo_unavailable") else \
                            "no valid passthrough run"
                        results["latency"].append({"system": s, "load": load, "unavailable": why})
                        continue
                    say("latency: %s at %s messages/s (%.0f %% of its passthrough rate)" % (
                        s, fmt(rate * load), 100 * load))
                    try:
                        row = latency_row(opts, s, rate * load, "%s-%g" % (s, load))
                    except (BenchError, OSError, subprocess.SubprocessError, ValueError) as error:
                        row = {"invalid": "harness error: %s" % error, "rate": rate * load}
                    row.update({"system": s, "load": load})
                    results["latency"].append(row)
                    say("  %s" % json.dumps(row))
    finally:
        cleanup_children()
        broker.stop()
    results["load_end"] = loadavg()
    results["elapsed_s"] = time.monotonic() - began
    text = render(results)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(text)
    print(json.dumps(results) if opts.json else text)
    if not opts.no_docs:
        update_docs(text)
        say("rewrote the Kafka block of docs/benchmarks.md")
    say("(%.0f s; results in bench/out/kafka/results.{md,json})" % results["elapsed_s"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print("bench/kafka: %s" % error, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        cleanup_children()
