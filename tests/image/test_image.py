"""The OCI image roo:0.1.0 (deploy/image/Containerfile, tools/image/build; docs/image.md), run with buildah.

Containers run with `buildah run --isolation chroot --network host` (the only way to run one on this machine: no
Docker engine, and crun cannot make containers here), so a container's ports are the host's loopback ports. Traffic
comes from outside: `roo send`, `roo receive` and `roo shutdown` of the host's build (ROO_BIN) talk to the workers
in the containers. Each test makes its own working containers from the image and removes them at the end.

Needs root and the image (ctest runs tools/image/build first: the `image` fixture in tests/image/CMakeLists.txt).
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from loopback_ports import free_port  # noqa: E402  (ports below the ephemeral range, never handed out twice)

IMAGE = os.environ.get("ROO_IMAGE", "roo:0.1.0")
VERSION = IMAGE.rsplit(":", 1)[1]
SIZE_BOUND_MB = 200
USER_ID = "10001"
ALPHABET = os.path.join(REPO, "examples", "alphabet")
IMAGE_ALPHABET = "/usr/share/roo/examples/alphabet"
READY_LINE = "|~~ INIT PHASE III: Application is ready to work! ~~|"
BUILDAH_EXIT_LINE = re.compile(r"^(subprocess exited with status \d+|Error: exit status \d+)$")
READY_TIMEOUT = 30.0  # a container starts in about a second; generous for a loaded 2-core machine


def buildah(*args, check=True, timeout=300):
    result = subprocess.run(["buildah"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail("buildah %s failed (exit %d): %s" % (" ".join(args), result.returncode, result.stderr),
                    pytrace=False)
    return result


def expected_alphabet():
    with open(os.path.join(ALPHABET, "expected.txt"), encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def check_alphabet_output(lines):
    """alphabet's rule (example.json "per_key"): expected.txt's lines as a multiset, and each letter's lines in its
    order (letters interleave freely)."""
    expected = expected_alphabet()
    assert sorted(lines) == sorted(expected), "the output differs from examples/alphabet/expected.txt"

    def by_letter(all_lines):
        groups = {}
        for line in all_lines:
            groups.setdefault(line.split(" => ")[0], []).append(line)
        return groups
    assert by_letter(lines) == by_letter(expected), "a letter's totals came out of order"


@pytest.fixture(scope="session")
def roo_bin():
    path = os.environ.get("ROO_BIN") or os.path.join(REPO, "build", "src", "cli", "roo")
    if not os.access(path, os.X_OK):
        pytest.fail("roo not found at %s (the host's roo sends, receives and shuts down)" % path, pytrace=False)
    return path


@pytest.fixture(scope="session")
def image():
    if os.geteuid() != 0:
        pytest.fail("buildah's chroot isolation needs root", pytrace=False)
    if buildah("inspect", "--type", "image", IMAGE, check=False).returncode != 0:
        pytest.fail("no image %s: build it with tools/image/build" % IMAGE, pytrace=False)
    return IMAGE


@pytest.fixture(scope="session")
def app_image(image, tmp_path_factory):
    """An application image built FROM roo as docs/image.md shows: deploy/image/app-example/Containerfile, with
    alphabet.py as the context."""
    context = tmp_path_factory.mktemp("app-context")
    with open(os.path.join(ALPHABET, "alphabet.py"), "rb") as src, open(str(context / "alphabet.py"), "wb") as dst:
        dst.write(src.read())
    tag = "localhost/roo-test-alphabet:%s" % uuid.uuid4().hex[:8]
    buildah("bud", "--isolation", "chroot", "--quiet", "--build-arg", "ROO_IMAGE=%s" % image,
            "-f", os.path.join(REPO, "deploy", "image", "app-example", "Containerfile"), "-t", tag, str(context),
            timeout=600)
    yield tag
    buildah("rmi", tag, check=False)


class Containers(object):
    """Working containers of one test; every `buildah run` process and container is gone at teardown."""

    def __init__(self, tmp_path):
        self.tmp_path = str(tmp_path)
        self.names = []
        self.runs = []

    def create(self, image):
        name = "roo-test-%s" % uuid.uuid4().hex[:10]
        buildah("from", "--pull-never", "--name", name, image)
        self.names.append(name)
        return name

    def run(self, image, argv):
        """A finished `buildah run`: (exit code, stdout, stderr)."""
        container = self.create(image)
        result = subprocess.run(["buildah", "run", "--isolation", "chroot", container, "--"] + list(argv),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        # buildah adds its own lines about a non-zero exit: what the container wrote is the rest.
        err = "".join(line for line in result.stderr.splitlines(True) if not BUILDAH_EXIT_LINE.match(line))
        return result.returncode, result.stdout, err

    def start(self, image, argv, label):
        """A `buildah run --network host` in the background, its output in files."""
        container = self.create(image)
        run = Run(["buildah", "run", "--isolation", "chroot", "--network", "host", container, "--"] + list(argv),
                  self.tmp_path, label)
        self.runs.append(run)
        return run

    def close(self):
        for run in self.runs:
            run.close()
        for name in self.names:
            buildah("rm", name, check=False)

    def logs(self):
        return "\n".join("---- %s: %s (exit %s)\n%s" % (run.label, " ".join(run.argv), run.proc.returncode,
                                                         run.stderr()) for run in self.runs)


class Run(object):
    def __init__(self, argv, log_dir, label):
        self.argv, self.label = argv, label
        self.stderr_path = os.path.join(log_dir, label + ".stderr")
        self._stderr = open(self.stderr_path, "wb")
        self._stdout = open(os.path.join(log_dir, label + ".stdout"), "wb")
        # Its own process group: with chroot isolation the container's processes are buildah's children on the
        # host, so a last-resort SIGKILL of the group ends them all.
        self.proc = subprocess.Popen(argv, stdout=self._stdout, stderr=self._stderr, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr():
                return True
            if self.proc.poll() is not None:
                return text in self.stderr()
            time.sleep(0.05)
        return False

    def wait_ready(self):
        assert self.wait_for_log(READY_LINE, READY_TIMEOUT), "%s not ready:\n%s" % (self.label, self.stderr())

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail("%s did not exit within %.0f s:\n%s" % (self.label, timeout, self.stderr()), pytrace=False)

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._stderr.close()
        self._stdout.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    setattr(item, "rep_" + outcome.get_result().when, outcome.get_result())


@pytest.fixture
def containers(tmp_path, request):
    factory = Containers(tmp_path)
    yield factory
    factory.close()
    if any(getattr(getattr(request.node, "rep_" + when, None), "failed", False) for when in ("setup", "call")):
        request.node.add_report_section("teardown", "container logs", factory.logs())


class HostReceiver(object):
    """`roo receive --expect N` on the host, its stdout in a file."""

    def __init__(self, roo_bin, tmp_path, expect):
        self.port = free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.out_path = str(tmp_path / "received.txt")
        self.log_path = str(tmp_path / "receive.stderr")
        self._out, self._log = open(self.out_path, "wb"), open(self.log_path, "wb")
        self.proc = subprocess.Popen([roo_bin, "receive", "--listen", self.address, "--expect", str(expect)],
                                     stdout=self._out, stderr=self._log)
        deadline = time.monotonic() + 10
        while "Listening on" not in open(self.log_path).read():
            assert time.monotonic() < deadline and self.proc.poll() is None, open(self.log_path).read()
            time.sleep(0.02)

    def lines(self, timeout=60):
        """The lines received, once the expected number came (fails the test if they do not within `timeout`)."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self._out.close()
        with open(self.out_path, encoding="utf-8") as f:
            lines = f.read().split("\n")[:-1]
        if code != 0:
            pytest.fail("roo receive got %d lines within %d s (exit %s): %s" % (
                len(lines), timeout, code, open(self.log_path).read()), pytrace=False)
        return lines

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        self._log.close()


@pytest.fixture
def host_receiver(roo_bin, tmp_path):
    made = []

    def make(expect):
        made.append(HostReceiver(roo_bin, tmp_path, expect))
        return made[-1]
    yield make
    for receiver in made:
        receiver.close()


def send_votes(roo_bin, port):
    """examples/alphabet/votes.msg (1000 votes, 9-byte frames) from the host, as tools/demo-alphabet does."""
    subprocess.run([roo_bin, "send", "--host", "127.0.0.1:%d" % port, "--file", os.path.join(ALPHABET, "votes.msg"),
                    "--binary", "--msg-size", "9", "--messages", "1000", "--no-write", "--interval", "0"],
                   check=True, timeout=60, stdout=subprocess.DEVNULL)


def shut_down(roo_bin, external_port):
    subprocess.run([roo_bin, "shutdown", "--external", "127.0.0.1:%d" % external_port], check=True, timeout=30)


# ---- what the image is


def test_image_size_is_under_the_bound(image):
    """The size buildah reports (the sum of the layers, uncompressed; decimal units)."""
    text = json.loads(buildah("images", "--json", image).stdout)[0]["size"]  # "166 MB"
    number, unit = text.split()
    size_mb = float(number) * {"B": 1e-6, "kB": 1e-3, "MB": 1.0, "GB": 1e3}[unit]
    print("image %s: %.1f MB" % (image, size_mb))
    assert size_mb < SIZE_BOUND_MB


def test_config_runs_roo_as_a_non_root_user(image):
    config = json.loads(buildah("inspect", "--type", "image", image).stdout)["OCIv1"]["config"]
    assert config["Entrypoint"] == ["/usr/bin/roo"]
    assert config["Cmd"] == ["--help"]
    assert config["User"] == "roo"
    assert config["WorkingDir"] == "/home/roo"
    # roo finds its wallaroo package relative to /usr/bin/roo: nothing points it there.
    assert not [env for env in config["Env"] if env.startswith(("ROO_PYTHON_DIR=", "PYTHONPATH="))]


def test_processes_run_as_the_roo_user(image, containers):
    code, out, err = containers.run(image, ["sh", "-c", "id -u; id -un; touch /home/roo/x && echo home-writable; "
                                                        "touch /usr/bin/x 2>/dev/null || echo usr-read-only"])
    assert code == 0, err
    assert out.split() == [USER_ID, "roo", "home-writable", "usr-read-only"]


def test_versions_of_roo_and_the_wallaroo_launchers(image, containers):
    for name, line in (("roo", "roo %s" % VERSION), ("machida", "machida (roo) %s" % VERSION),
                       ("machida3", "machida3 (roo) %s" % VERSION)):
        code, out, err = containers.run(image, [name, "--version"])
        assert (code, out.strip()) == (0, line), err


def test_python_311_with_pip_venv_and_the_wallaroo_package(image, containers):
    code, out, err = containers.run(image, ["sh", "-c",
                                            "python3 --version && python3 -m venv /tmp/venv && "
                                            "/tmp/venv/bin/pip --version && python3 -c 'import wallaroo; "
                                            "print(wallaroo.__file__)'"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Python 3.11.")
    assert lines[1].startswith("pip ") and "/tmp/venv/" in lines[1]
    assert lines[2] == "/usr/lib/roo/python/wallaroo/__init__.py"


# ---- bad input


def test_an_image_started_without_an_app_prints_the_usage(image, containers):
    """The entrypoint and CMD (what `podman run roo:0.1.0` runs) print roo's usage; `roo` without a subcommand and
    `roo run` without an app say what is missing in one line, exit 2. No traceback anywhere."""
    config = json.loads(buildah("inspect", "--type", "image", image).stdout)["OCIv1"]["config"]
    code, out, err = containers.run(image, config["Entrypoint"] + config["Cmd"])
    assert code == 0, (out, err)
    assert out.startswith("Roo: run Wallaroo-style Python stream processing applications")
    assert "Usage: roo [OPTIONS] SUBCOMMAND" in out and "roo run examples/alphabet/alphabet.py" in out
    code, out, err = containers.run(image, config["Entrypoint"])
    assert (code, out, err) == (2, "", "roo: A subcommand is required\nhint: run 'roo --help' for usage\n")
    code, out, err = containers.run(image, ["roo", "run"])
    assert (code, out) == (2, "")
    assert err == "roo run: unable to run: name the application to run, e.g. roo run examples/alphabet/alphabet.py\n"


def test_a_worker_that_cannot_reach_the_initializer_retries_then_gives_up(image, containers):
    """Nothing listens at --control: the worker says it retries, keeps at it for roo's join timeout (30 s, fixed),
    then stops with one line naming the address, exit 1."""
    control = free_port()
    worker = containers.start(image, [
        "roo", "run", IMAGE_ALPHABET + "/alphabet.py", "--in", "Alphabet@127.0.0.1:%d" % free_port(),
        "--out", "127.0.0.1:%d" % free_port(), "--name", "worker1", "--control", "127.0.0.1:%d" % control,
        "--my-control", "127.0.0.1:%d" % free_port(), "--my-data", "127.0.0.1:%d" % free_port()], "worker1")
    assert worker.wait_for_log("cluster: cannot reach the initializer at 127.0.0.1:%d (connection refused); retrying"
                               % control, 20), worker.stderr()
    assert worker.wait(60) == 1
    assert ("roo run: unable to join the cluster at 127.0.0.1:%d: the initializer did not answer within 30 s"
            % control) in worker.stderr()
    assert "Traceback" not in worker.stderr()


# ---- the alphabet example, one worker and a cluster


@pytest.mark.parametrize("launcher", ["roo run", "machida"])
def test_alphabet_in_a_container_with_traffic_from_the_host(image, containers, host_receiver, roo_bin, launcher):
    out = host_receiver(1000)
    source, external = free_port(), free_port()
    flags = ["--in", "Alphabet@127.0.0.1:%d" % source, "--out", out.address, "--external", "127.0.0.1:%d" % external]
    if launcher == "roo run":
        argv = ["roo", "run", IMAGE_ALPHABET + "/alphabet.py"] + flags
    else:
        argv = ["env", "PYTHONPATH=" + IMAGE_ALPHABET, "machida", "--application-module", "alphabet"] + flags + [
            "--metrics", "127.0.0.1:%d" % free_port(), "--ponythreads=1", "--ponynoblock"]
    worker = containers.start(image, argv, "alphabet")
    worker.wait_ready()
    send_votes(roo_bin, source)
    check_alphabet_output(out.lines())
    shut_down(roo_bin, external)
    assert worker.wait(30) == 0, worker.stderr()


def test_two_worker_cluster_of_two_containers(app_image, containers, host_receiver, roo_bin):
    """Two containers of an app image built FROM roo, on the host network: worker1 is started first and retries
    until the initializer's container is up; both are members (cluster-status-query from the host); all 1000 votes go
    to the initializer's source, keys spread over both workers, and the output is alphabet's exact expected output."""
    out = host_receiver(1000)
    source, control, data, external = free_port(), free_port(), free_port(), free_port()
    config = json.loads(buildah("inspect", "--type", "image", app_image).stdout)["OCIv1"]["config"]
    entrypoint = config["Entrypoint"]
    assert entrypoint == ["/usr/bin/roo", "run", "/app/alphabet.py"]
    common = ["--out", out.address, "--control", "127.0.0.1:%d" % control]
    worker1 = containers.start(app_image, entrypoint + common + [
        "--in", "Alphabet@127.0.0.1:%d" % free_port(), "--name", "worker1",
        "--my-control", "127.0.0.1:%d" % free_port(), "--my-data", "127.0.0.1:%d" % free_port()], "worker1")
    assert worker1.wait_for_log("cluster: cannot reach the initializer at 127.0.0.1:%d" % control, 20), \
        worker1.stderr()
    initializer = containers.start(app_image, entrypoint + common + [
        "--in", "Alphabet@127.0.0.1:%d" % source, "--cluster-initializer", "--worker-count", "2",
        "--data", "127.0.0.1:%d" % data, "--external", "127.0.0.1:%d" % external], "initializer")
    initializer.wait_ready()
    worker1.wait_ready()
    status = json.loads(subprocess.run([roo_bin, "ctl", "--external", "127.0.0.1:%d" % external, "--type",
                                        "cluster-status-query", "--json"], check=True, stdout=subprocess.PIPE,
                                       timeout=30).stdout)
    assert (status["worker_count"], sorted(status["worker_names"])) == (2, ["initializer", "worker1"])
    send_votes(roo_bin, source)
    check_alphabet_output(out.lines())
    shut_down(roo_bin, external)
    assert initializer.wait(30) == 0, initializer.stderr()
    assert worker1.wait(30) == 0, worker1.stderr()
