"""Process handling shared by the benchmark scripts (suite.py, alphabet_one_worker.py, callgrind/run.py,
hop/run.py): start children so that a failure or ^C never leaves one behind, wait for a line in a log, read
a log's tail, find a free port, make a virtualenv with a package from PyPI, read a process's and the machine's
CPU time from /proc.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A run that cannot give a valid figure; the message says why."""


_children = []   # every Popen started with spawn()
adopted = set()  # other pids to kill with them (a supervisor's workers, found in /proc)


def spawn(argv, **kwargs):
    """Popen in a session of its own: ^C on the terminal reaches only the script, which stops the children in
    order (cleanup_children kills each one's whole process group)."""
    proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
    _children.append(proc)
    return proc


def cleanup_children():
    for proc in _children:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for pid in adopted:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for proc in _children:
        proc.wait()
    _children.clear()
    adopted.clear()


def run_main(main, program):
    """A benchmark script's entry: runs main(); SIGTERM and SIGINT (ignored when started in the background) stop it as
    ^C would; a BenchError is one line `<program>: <why>` and exit 1, an interruption exit 130; the children never
    outlive it. Exits with main()'s status (None: 0)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    try:
        sys.exit(main())
    except BenchError as e:
        print("%s: %s" % (program, e), file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("%s: interrupted" % program, file=sys.stderr)
        sys.exit(130)
    finally:
        cleanup_children()


def tail(path, lines=15):
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


def wait_for_text(path, pattern, proc, timeout, what):
    """Polls file `path` until regex `pattern` matches; returns the match. BenchError when `proc` exits first or
    `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        with open(path, errors="replace") as f:
            m = re.search(pattern, f.read())
        if m:
            return m
        if proc.poll() is not None:
            raise BenchError("%s exited (%s) before %r; its log %s ends:\n%s"
                             % (what, proc.returncode, pattern, path, tail(path)))
        if time.monotonic() > deadline:
            raise BenchError("%s: no %r within %.0f s; log %s ends:\n%s"
                             % (what, pattern, timeout, path, tail(path)))
        time.sleep(0.005)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def commit_of():
    """The repository's short HEAD commit, or "?"."""
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def ensure_venv(venv, requirement, dist):
    """`venv` (made from /usr/bin/python3 when missing) with `requirement` pip-installed from PyPI; returns
    (its python, the installed version of distribution `dist`). BenchError says what failed."""
    python = os.path.join(venv, "bin", "python")

    def version():
        done = subprocess.run([python, "-c", "from importlib.metadata import version; print(version(%r))" % dist],
                              capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    if os.path.exists(python) and version():
        return python, version()
    print("setup: creating %s and pip-installing %s" % (os.path.relpath(venv, REPO), requirement), file=sys.stderr,
          flush=True)
    made = subprocess.run(["/usr/bin/python3", "-m", "venv", venv], capture_output=True, text=True)
    if made.returncode != 0 and "ensurepip" in (made.stdout + made.stderr):  # Debian splits venv's pip out
        subprocess.run(["apt-get", "install", "-y", "-qq", "python3-venv", "python3.11-venv"], capture_output=True)
        made = subprocess.run(["/usr/bin/python3", "-m", "venv", "--clear", venv], capture_output=True, text=True)
    if made.returncode != 0:
        raise BenchError("python3 -m venv %s failed: %s" % (venv, (made.stderr or made.stdout).strip()[-500:]))
    pip = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", requirement], capture_output=True,
                         text=True, timeout=900)
    if pip.returncode != 0:
        raise BenchError("pip install %s failed: %s" % (requirement, (pip.stderr or pip.stdout).strip()[-800:]))
    found = version()
    if not found:
        raise BenchError("%s has no %s after pip install %s" % (python, dist, requirement))
    return python, found


def proc_stat_fields(path):
    with open(path) as f:
        text = f.read()
    return text[text.rfind(")") + 2:].split()  # fields from 3 (state) on; comm may hold spaces


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads), in seconds."""
    fields = proc_stat_fields("/proc/%d/stat" % pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid):
    """cpu_seconds of `pid` and of every live descendant (a `roo run --workers N` launcher's workers are its
    children, whose time the launcher's own counters hold only once they are reaped)."""
    total = cpu_seconds(pid)
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                children = [int(x) for x in f.read().split()]
        except OSError:
            continue
        for child in children:
            try:
                total += tree_cpu_seconds(child)
            except OSError:
                pass  # it ended meanwhile
    return total


def machine_cpu_seconds():
    """(busy, total) CPU seconds of the whole machine since boot, all cores (/proc/stat; idle and iowait are the
    idle part): busy / total over an interval is how saturated the cores were."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / CLK_TCK, sum(ticks) / CLK_TCK
