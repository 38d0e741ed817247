"""Fixtures for the install tests: Roo as `cmake --install` and the .deb lay it out, run from outside the repo.

* `build_dir`: the CMake build to install from (env ROO_BUILD_DIR, default <repo>/build); it must be built.
* `version`: the project's version (env ROO_VERSION, else read from the build's CMakeCache.txt).
* `clean_env()`: the environment without PYTHONPATH, ROO_PYTHON_DIR and VIRTUAL_ENV, so that only the install tree
  can provide the wallaroo package.
* `run_alphabet(bin_dir, work_dir)`: examples/alphabet end to end with `roo receive`, `roo run` and `roo send` from
  `bin_dir`, the app copied into `work_dir` (also the processes' working directory); checks the output.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALPHABET = os.path.join(REPO, "examples", "alphabet")
READY_LINE = "|~~ INIT PHASE III: Application is ready to work! ~~|"
VOTES = 1000

sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from loopback_ports import free_port  # noqa: E402  (the e2e tests' port picker)


@pytest.fixture(scope="session")
def build_dir():
    path = os.environ.get("ROO_BUILD_DIR") or os.path.join(REPO, "build")
    if not os.path.isfile(os.path.join(path, "src", "cli", "roo")):
        pytest.fail("no built roo in %s: build it first (cmake --build build) or set ROO_BUILD_DIR" % path,
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def version(build_dir):
    if os.environ.get("ROO_VERSION"):
        return os.environ["ROO_VERSION"]
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        return re.search(r"^CMAKE_PROJECT_VERSION:STATIC=(.*)$", f.read(), re.M).group(1)


def clean_env():
    env = dict(os.environ)
    for name in ("PYTHONPATH", "ROO_PYTHON_DIR", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


def wait_for_text(path, text, timeout, proc=None):
    """True once `text` is in the file at `path`; False on timeout or when `proc` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, "rb") as f:
            if text in f.read().decode("utf-8", "replace"):
                return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def copy_alphabet_app(work_dir):
    """alphabet.py, and `located_alphabet.py`: the same app, which also says where `wallaroo` came from."""
    shutil.copy(os.path.join(ALPHABET, "alphabet.py"), work_dir)
    with open(os.path.join(work_dir, "located_alphabet.py"), "w") as f:
        f.write("import sys\n\nimport wallaroo\nfrom alphabet import application_setup  # noqa: F401\n\n"
                "sys.stderr.write('wallaroo package: %s\\n' % wallaroo.__file__)\n")


def check_alphabet_output(lines):
    """The expected totals, in expected.txt's order for each letter (one worker: per-key FIFO)."""
    with open(os.path.join(ALPHABET, "expected.txt"), encoding="utf-8") as f:
        expected = f.read().split("\n")[:-1]
    assert len(lines) == VOTES
    assert sorted(lines) == sorted(expected)

    def by_letter(items):
        groups = {}
        for line in items:
            groups.setdefault(line[0], []).append(line)
        return groups
    assert by_letter(lines) == by_letter(expected)


def run_alphabet(bin_dir, work_dir):
    """Runs examples/alphabet with the binaries in `bin_dir` from `work_dir`; returns the worker's stderr."""
    roo = os.path.join(bin_dir, "roo")
    copy_alphabet_app(work_dir)
    env = clean_env()
    in_port, out_port = free_port(), free_port()
    paths = dict((name, os.path.join(work_dir, name)) for name in
                 ("received.txt", "receive.stderr", "worker.stderr", "send.stderr"))
    procs = []
    try:
        with open(paths["received.txt"], "wb") as received, open(paths["receive.stderr"], "wb") as receive_log:
            receive = subprocess.Popen([roo, "receive", "--listen", "127.0.0.1:%d" % out_port, "--expect", str(VOTES)],
                                       stdout=received, stderr=receive_log, cwd=work_dir, env=env)
        procs.append(receive)
        assert wait_for_text(paths["receive.stderr"], "Listening on 127.0.0.1:%d" % out_port, 10, receive), \
            read(paths["receive.stderr"])
        with open(paths["worker.stderr"], "wb") as worker_log:
            worker = subprocess.Popen([roo, "run", "located_alphabet.py", "--in", "Alphabet@127.0.0.1:%d" % in_port,
                                       "--out", "127.0.0.1:%d" % out_port],
                                      stdout=subprocess.DEVNULL, stderr=worker_log, stdin=subprocess.DEVNULL,
                                      cwd=work_dir, env=env)
        procs.append(worker)
        assert wait_for_text(paths["worker.stderr"], READY_LINE, 30, worker), read(paths["worker.stderr"])
        send = subprocess.run([roo, "send", "--host", "127.0.0.1:%d" % in_port,
                               "--file", os.path.join(ALPHABET, "votes.msg"), "--binary", "--msg-size", "9",
                               "--messages", str(VOTES), "--no-write"],
                              capture_output=True, timeout=30, cwd=work_dir, env=env)
        assert send.returncode == 0, send.stderr
        assert receive.wait(timeout=30) == 0, read(paths["receive.stderr"])
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, read(paths["worker.stderr"])
        check_alphabet_output(read(paths["received.txt"]).split("\n")[:-1])
        return read(paths["worker.stderr"])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
