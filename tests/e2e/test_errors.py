"""Errors at the user boundary: setup errors (one stderr line, exit 2), bad frames
(the connection closes, others keep flowing), and user code that raises (the event is
skipped with a warning, everything else arrives exactly once).
"""
import glob
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import APPS, REPO, connect, frame, free_port, peer_closed, send_frames, worker_env

# Things that must never reach a user's terminal on a setup error.
CRASH_MARKERS = ("Traceback", "terminate called", "what():", "Aborted", "core dumped",
                 "Segmentation fault", "std::", "boost::", "pybind11", 'File "')


def run_setup(argv, env=None):
    """Run a command that must fail at setup; return (exit code, stderr lines)."""
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20,
                          env=env or worker_env(), cwd=REPO)
    return done.returncode, done.stderr.decode("utf-8", "replace").splitlines()


def assert_one_line(lines, expected):
    """stderr is exactly `expected` (a string, or a compiled regex for the whole line)."""
    for marker in CRASH_MARKERS:
        assert not any(marker in line for line in lines), "crash output on stderr: %r" % lines
    assert len(lines) == 1, "expected one stderr line, got %r" % lines
    if isinstance(expected, str):
        assert lines[0] == expected
    else:
        assert expected.fullmatch(lines[0]), lines[0]


def io_flags():
    return ["--in", "Src@127.0.0.1:%d" % free_port(), "--out", "127.0.0.1:%d" % free_port()]


def app(name):
    return os.path.join(APPS, name + ".py")


# ---- setup errors -------------------------------------------------------------------

def test_missing_module(roo_bin):
    # `roo run MODULE` (no .py) imports MODULE from the current folder and PYTHONPATH.
    code, lines = run_setup([roo_bin, "run", "nosuch"] + io_flags())
    assert code == 2
    assert_one_line(lines, "roo run: unable to import application module 'nosuch': "
                           "ModuleNotFoundError: No module named 'nosuch'")


def test_missing_application_file(roo_bin):
    code, lines = run_setup([roo_bin, "run", app("nosuch")] + io_flags())
    assert code == 2
    assert_one_line(lines, "roo run: unable to find application file '%s': no such file" % app("nosuch"))


def test_missing_module_machida(machida_bin):
    code, lines = run_setup([machida_bin, "--application-module", "nosuch"] + io_flags() +
                            ["--ponythreads=1"], env=worker_env([APPS]))
    assert code == 2
    assert_one_line(lines, "machida: unable to import application module 'nosuch': "
                           "ModuleNotFoundError: No module named 'nosuch'")


def test_syntax_error(roo_bin):
    code, lines = run_setup([roo_bin, "run", app("bad")] + io_flags())
    assert code == 2
    assert_one_line(lines, re.compile(
        r"roo run: unable to import application module 'bad': SyntaxError: "
        r"expected ':' \(.*bad\.py, line 3\)"))


def test_a_connector_source_whose_port_is_taken_is_one_line(roo_bin):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, lines = run_setup([roo_bin, "run", app("connector_source"), "--connector-port", str(port), "--out",
                                 "127.0.0.1:%d" % free_port()])
    assert code == 1
    assert_one_line(lines, "roo run: unable to listen on 127.0.0.1:%d for connector source 'events': address already "
                           "in use" % port)


KAFKA_FLAGS = ["--kafka_source_topic", "readings", "--kafka_source_brokers", "127.0.0.1:9",
               "--results_topic", "results", "--results_brokers", "127.0.0.1:9"]


def test_unreachable_kafka_brokers_are_retried_then_refused_in_one_line(roo_bin):
    # Nothing listens on port 9: the source retries for --kafka-broker-wait, saying so once, then the worker exits.
    code, lines = run_setup([roo_bin, "run", "--kafka-broker-wait", "1", app("kafka")] + io_flags() + KAFKA_FLAGS +
                            ["--use", "source"])
    assert code == 1
    assert len(lines) == 2, lines
    assert lines[0].endswith(" W roo.io initializer: kafka_source 'Readings': cannot reach Kafka brokers '127.0.0.1:9' "
                             "(connect to ipv4#127.0.0.1:9 failed: Connection refused); retrying for up to 1000 ms"), lines
    assert lines[1] == ("roo run: unable to reach Kafka brokers '127.0.0.1:9' for source 'Readings' within 1000 ms: "
                        "connect to ipv4#127.0.0.1:9 failed: Connection refused")


@pytest.mark.parametrize("flags,line", [
    (["--use", "source"], "roo run: unable to set up application 'kafka': WallarooParameterError: "
                          "pipeline 'Readings' (source 'Readings'): no Kafka topic given (pass --kafka_source_topic)"),
    (["--use", "sink", "--results_topic", "results", "--results_brokers", "k:9092", "--kafka-property", "acks"],
     "roo run: unable to set up application 'kafka': WallarooParameterError: bad --kafka-property value 'acks': "
     "expected key=value (a librdkafka property, e.g. security.protocol=SASL_SSL)"),
])
def test_bad_kafka_flags_are_one_line_at_setup(roo_bin, flags, line):
    # The app's flags reach the description: the Default parsers and --kafka-property are read there.
    code, lines = run_setup([roo_bin, "run", app("kafka")] + io_flags() + flags)
    assert code == 2
    assert_one_line(lines, line)


def test_no_application_setup(roo_bin):
    code, lines = run_setup([roo_bin, "run", app("no_setup")] + io_flags())
    assert code == 2
    assert_one_line(lines, "roo run: unable to set up application 'no_setup': "
                           "the module defines no application_setup(args)")


def test_pipeline_without_sink(roo_bin):
    code, lines = run_setup([roo_bin, "run", app("no_sink")] + io_flags())
    assert code == 2
    assert_one_line(lines, "roo run: unable to set up application 'no_sink': "
                           "WallarooParameterError: An application must end with to_sink/s.")


def test_pipeline_without_sink_machida(machida_bin):
    code, lines = run_setup([machida_bin, "--application-module", "no_sink"] + io_flags() +
                            ["--ponythreads=1"], env=worker_env([APPS]))
    assert code == 2
    assert_one_line(lines, "machida: unable to set up application 'no_sink': "
                           "WallarooParameterError: An application must end with to_sink/s.")


def test_bad_out_address(roo_bin):
    code, lines = run_setup([roo_bin, "run", app("echo"), "--in",
                             "Src@127.0.0.1:%d" % free_port(), "--out", "nope"])
    assert code == 2
    assert_one_line(lines, "roo run: unable to set up application 'echo': WallarooParameterError: "
                           "bad --out address 'nope': expected host:port")


def test_missing_in_flag(roo_bin):
    code, lines = run_setup([roo_bin, "run", app("echo"), "--out", "127.0.0.1:%d" % free_port()])
    assert code == 2
    assert_one_line(lines, "roo run: unable to set up application 'echo': WallarooParameterError: "
                           "missing --in (-i): this application needs its input addresses, e.g. "
                           "--in my_source@127.0.0.1:7000")


def test_source_port_in_use(roo_bin):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, lines = run_setup([roo_bin, "run", app("echo"), "--in", "Echo@127.0.0.1:%d" % port,
                                 "--out", "127.0.0.1:%d" % free_port()])
    assert code == 1  # an environment failure, not a usage error
    assert_one_line(lines, "roo run: unable to listen on 127.0.0.1:%d for source 'Echo': "
                           "address already in use" % port)


@pytest.mark.parametrize("case", ["no_app_path", "bad_worker_count", "unknown_command"])
def test_bad_flags_exit_2(roo_bin, case):
    argv = {
        "no_app_path": ["run"],
        "bad_worker_count": ["run", app("echo")] + io_flags() + ["--worker-count", "many"],
        "unknown_command": ["no-such-command"],
    }[case]
    code, lines = run_setup([roo_bin] + argv)
    assert code == 2
    for marker in CRASH_MARKERS:
        assert not any(marker in line for line in lines), lines
    assert lines and lines[0].startswith("roo"), lines


def project_version():
    """The version in CMakeLists.txt's project() line, which --version prints."""
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(roo VERSION (\d+\.\d+\.\d+)", f.read()).group(1)


@pytest.mark.parametrize("program, expected", [("roo", "roo %s\n"), ("machida", "machida (roo) %s\n"),
                                               ("machida3", "machida3 (roo) %s\n")])
def test_version(roo_bin, program, expected):
    done = subprocess.run([os.path.join(os.path.dirname(roo_bin), program), "--version"], capture_output=True,
                          text=True, timeout=20, env=worker_env(), cwd=REPO)
    assert (done.returncode, done.stdout, done.stderr) == (0, expected % project_version(), "")


@pytest.mark.parametrize("flag, named", [("--foo", "--foo"), ("--foo=1", "--foo"), ("-x", "-x"),
                                         ("--in", "--in")])
def test_unknown_flag_before_the_app_is_named(roo_bin, flag, named):
    code, lines = run_setup([roo_bin, "run", flag, app("echo")] + io_flags())
    assert code == 2
    assert_one_line(lines, "roo run: unable to use %s: roo run has no such flag (the application's and "
                           "Wallaroo's flags go after APP)" % named)


@pytest.mark.parametrize("before, after, message", [
    (["--workers", "x"], [], "parse --workers 'x': expected a whole number of at least 1"),
    ([], ["--workers", "x"], "parse --workers 'x': expected a whole number of at least 1"),
    (["--workers=0"], [], "parse --workers '0': expected a whole number of at least 1"),
    ([], ["--workers=0"], "parse --workers '0': expected a whole number of at least 1"),
    (["--workers", "2.5"], [], "parse --workers '2.5': expected a whole number of at least 1"),
    (["--drain-timeout", "x"], [], "parse --drain-timeout 'x': expected a number of seconds, 0 or more"),
    (["--drain-timeout", "-1"], [], "parse --drain-timeout '-1': expected a number of seconds, 0 or more"),
    (["--log-level", "loud"], [],
     "parse --log-level 'loud': expected one of trace, debug, info, warn, error, critical, off"),
    ([], ["--worker-count", "x"], "parse --worker-count 'x': expected a whole number of at least 1"),
    ([], ["--metrics", "--ponythreads=1"], "parse --metrics: the flag needs a value"),
    ([], ["--metrics"], "parse --metrics: the flag needs a value"),
])
def test_bad_flag_values_give_one_line_wherever_they_stand(roo_bin, before, after, message):
    code, lines = run_setup([roo_bin, "run"] + before + [app("echo")] + io_flags() + after)
    assert code == 2
    assert_one_line(lines, "roo run: unable to " + message)


@pytest.mark.parametrize("module", [["--application-module"], ["--application-module="],
                                    ["--application-module", ""]], ids=["flag_follows", "inline_empty", "empty"])
def test_machida_module_flag_without_its_value(machida_bin, module):
    code, lines = run_setup([machida_bin] + module + ["--in", "a@127.0.0.1:1", "--out", "127.0.0.1:2"],
                            env=worker_env([APPS]))
    assert code == 2
    assert_one_line(lines, "machida: unable to parse --application-module: the flag needs a value")


@pytest.mark.parametrize("layout, message", [
    ("config.yml", "read {given}: expected a mapping with processor, source and sink"),
    ("function.zip", "unpack {given}: BadZipFile: File is not a zip file"),
])
def test_a_broken_bruco_function_is_refused_in_one_line(roo_bin, tmp_path, layout, message):
    """Bruco mode (docs/bruco.md; tests/e2e/test_bruco.py runs good functions): a config that is not a mapping, and
    a .zip that is not one, each stop the start in one line."""
    given = str(tmp_path / layout)
    with open(given, "w") as f:
        f.write("stand-in")
    code, lines = run_setup([roo_bin, "run", given])
    assert code == 2
    assert_one_line(lines, "roo run: unable to " + message.format(given=given))


# Debian 12 has no Python 3.12, so a clean machine cannot make a 3.12 virtualenv: these tests build the folder a
# user would have: pyvenv.cfg as `python3.12 -m venv` (version) or virtualenv/uv (version_info) write it, or only
# the lib/python3.12 folder. That is all Roo reads. The next test makes a real one where a python3.12 exists
# (a pyenv install, say).
@pytest.mark.parametrize("cfg", ["home = /usr/local/bin\ninclude-system-site-packages = false\nversion = 3.12.1\n",
                                 "home = /opt/py/bin\nimplementation = CPython\nversion_info = 3.12.1.final.0\n",
                                 None], ids=["venv_version", "virtualenv_version_info", "lib_folder_only"])
@pytest.mark.parametrize("launcher", ["roo run", "machida"])
def test_fake_python_3_12_virtualenv_is_named(roo_bin, machida_bin, tmp_path, cfg, launcher):
    venv = tmp_path / "venv312"
    (venv / "lib" / "python3.12" / "site-packages").mkdir(parents=True)
    (venv / "bin").mkdir()
    if cfg is not None:
        (venv / "pyvenv.cfg").write_text(cfg)
    env = worker_env([APPS])
    env["VIRTUAL_ENV"] = str(venv)
    argv = ([roo_bin, "run", app("echo")] if launcher == "roo run" else
            [machida_bin, "--application-module", "echo"]) + io_flags()
    code, lines = run_setup(argv, env=env)
    assert code == 2
    assert_one_line(lines, "%s: unable to use the virtualenv %s (VIRTUAL_ENV): this virtualenv is Python 3.12; "
                           "Roo embeds 3.11 (make it with /usr/bin/python3 -m venv)" % (launcher, venv))


def test_real_python_3_12_virtualenv_is_named(roo_bin, tmp_path):
    pyenv = os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")
    found = [shutil.which("python3.12")] + sorted(glob.glob(pyenv))
    runs = [p for p in found if p and subprocess.run([p, "-c", "pass"], capture_output=True).returncode == 0]
    if not runs:
        pytest.skip("no python3.12 on this machine (Debian 12 has none); the fake-folder tests above cover the check")
    python312 = runs[0]
    venv = tmp_path / "real312"
    subprocess.run([python312, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    env = worker_env()
    env["VIRTUAL_ENV"] = str(venv)
    code, lines = run_setup([roo_bin, "run", app("echo")] + io_flags(), env=env)
    assert code == 2
    assert_one_line(lines, "roo run: unable to use the virtualenv %s (VIRTUAL_ENV): this virtualenv is Python 3.12; "
                           "Roo embeds 3.11 (make it with /usr/bin/python3 -m venv)" % venv)


# ---- bad frames -----------------------------------------------------------------------

def texts(prefix, count):
    return ["%s-%03d" % (prefix, i) for i in range(count)]


def test_oversized_frame_closes_only_that_connection(workers, receiver):
    out = receiver()
    port = free_port()
    worker = workers.run(app("echo"), "--in", "Echo@127.0.0.1:%d" % port, "--out", out.address,
                         "--max-size", "64")
    good = connect(port)
    bad = connect(port)
    good.sendall(b"".join(frame(t) for t in texts("good", 20)))
    bad.sendall(b"".join(frame(t) for t in texts("bad", 10)))
    out.wait_for(lambda r: len(r.lines()) >= 30)
    peer = "%s:%d" % bad.getsockname()[:2]
    # 65 bytes > max_size 64: the connection must close; what follows it must not arrive.
    bad.sendall(frame("x" * 65) + frame("after-the-bad-frame"))
    assert peer_closed(bad), "the worker kept the connection with an oversized frame open"
    bad.close()
    good.sendall(b"".join(frame(t) for t in texts("late", 20)))
    good.close()
    out.wait_for(lambda r: len(r.lines()) >= 50)
    out.wait_quiet(0.3)
    assert sorted(out.lines()) == sorted(texts("good", 20) + texts("bad", 10) + texts("late", 20))
    assert ("tcp_source 'Echo': closing connection from %s: frame of 65 bytes exceeds max_size 64"
            % peer) in worker.stderr()
    assert worker.stop() == 0


def test_frame_of_exactly_max_size_is_accepted(workers, receiver):
    out = receiver()
    port = free_port()
    worker = workers.run(app("echo"), "--in", "Echo@127.0.0.1:%d" % port, "--out", out.address,
                         "--max-size", "64")
    send_frames(port, [frame("y" * 64), frame("z")])
    out.wait_for(lambda r: len(r.lines()) >= 2)
    out.wait_quiet(0.2)
    assert out.lines() == ["y" * 64, "z"]
    assert worker.stop() == 0


def test_truncated_frame_is_dropped_and_the_source_goes_on(workers, receiver):
    out = receiver()
    port = free_port()
    worker = workers.run(app("echo"), "--in", "Echo@127.0.0.1:%d" % port, "--out", out.address)
    # Five whole frames, then a header announcing 10 bytes followed by only 3, then EOF.
    send_frames(port, [frame(t) for t in texts("whole", 5)] + [b"\x00\x00\x00\x0aabc"])
    send_frames(port, [frame(t) for t in texts("next", 5)])
    out.wait_for(lambda r: len(r.lines()) >= 10)
    out.wait_quiet(0.3)
    assert sorted(out.lines()) == sorted(texts("whole", 5) + texts("next", 5))
    assert worker.stop() == 0


# ---- user code that raises ---------------------------------------------------------------

FAULTY_EVENTS = ["ok-%02d" % i if i not in (4, 9, 15) else "bad-%02d" % i for i in range(20)]
GOOD_EVENTS = [e for e in FAULTY_EVENTS if not e.startswith("bad")]


@pytest.mark.parametrize("stage,warning", [
    ("decoder", r"decoder of source 'Faulty' raised ValueError: refusing bad-04"),
    ("key_by", r"key_by 'key_of' raised ValueError: refusing bad-04"),
    ("computation", r"computation 'check' raised ValueError: refusing bad-04"),
    ("state", r"state computation 'tally' raised ValueError: refusing bad-04"),
    ("encoder", r"encoder of sink '[^']*' raised ValueError: refusing bad-04"),
])
def test_user_code_that_raises_skips_the_event(workers, receiver, stage, warning):
    out = receiver()
    port = free_port()
    worker = workers.run(app("faulty"), "--in", "Faulty@127.0.0.1:%d" % port, "--out", out.address,
                         "--fail-in", stage)
    send_frames(port, [frame(e) for e in FAULTY_EVENTS])
    out.wait_for(lambda r: len(r.lines()) >= len(GOOD_EVENTS))
    out.wait_quiet(0.3)
    assert sorted(out.lines()) == GOOD_EVENTS
    assert re.search(warning, worker.stderr()), worker.stderr()
    # The worker is still healthy: a later batch flows, then a clean stop.
    send_frames(port, [frame("ok-later")])
    out.wait_for(lambda r: len(r.lines()) >= len(GOOD_EVENTS) + 1)
    assert sorted(out.lines()) == sorted(GOOD_EVENTS + ["ok-later"])
    assert worker.stop(signal.SIGTERM) == 0
