"""The launchers: `roo run` and `machida` find the app, its imports (PYTHONPATH, an active virtualenv), pass
the app its arguments, and refuse what they cannot do in one line."""
import os
import subprocess

import pytest

from conftest import REPO, free_port, frame, send_frames, worker_env

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher_apps")
HELPER = "def shout(text):\n    return text.upper() + '!'\n"


def write_helper(folder):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "roo_launcher_helper.py"), "w") as f:
        f.write(HELPER)


def run_introspect(workers, receiver, launch):
    out = receiver()
    in_port = free_port()
    worker = launch(in_port, out)
    send_frames(in_port, [frame("hi"), frame("there")])
    lines = out.wait_for_lines(2)
    assert worker.stop() == 0
    return [line.split("|") for line in lines]


def test_roo_run_imports_from_pythonpath_and_passes_the_apps_args(workers, receiver, tmp_path):
    write_helper(str(tmp_path / "lib"))
    app = os.path.join(APPS, "introspect.py")

    def launch(in_port, out):
        return workers.run(app, "--in", "src@127.0.0.1:%d" % in_port, "--out", out.address,
                           "--metrics", "127.0.0.1:5001", "--ponythreads=1", "--ponynoblock", "--depth", "2",
                           env=worker_env([str(tmp_path / "lib")]))

    rows = run_introspect(workers, receiver, launch)
    in_arg = [row[2] for row in rows][0]
    assert [row[:2] for row in rows] == [["hi", "HI!"], ["there", "THERE!"]]
    # The app sees its own flags only; wallaroo._ARGS holds the whole command line.
    assert in_arg.startswith("--in src@127.0.0.1:") and in_arg.endswith(" --depth 2")
    assert "--metrics" not in in_arg and "--pony" not in in_arg
    assert rows[0][3].startswith(app + " --in src@") and "--metrics 127.0.0.1:5001 --ponythreads=1" in rows[0][3]
    assert rows[0][4] == "/usr/bin/python3"
    assert rows[0][5] == "False", "the working directory must not shadow modules"


def test_roo_run_imports_from_the_active_virtualenv(workers, receiver, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    write_helper(str(venv / "lib" / "python3.11" / "site-packages"))
    env = worker_env()
    env["VIRTUAL_ENV"] = str(venv)

    def launch(in_port, out):
        return workers.run(os.path.join(APPS, "introspect.py"), "--in", "src@127.0.0.1:%d" % in_port,
                           "--out", out.address, env=env)

    rows = run_introspect(workers, receiver, launch)
    assert [row[:2] for row in rows] == [["hi", "HI!"], ["there", "THERE!"]]


def test_machida_runs_a_wallaroo_command_line_unchanged(workers, receiver, tmp_path):
    write_helper(str(tmp_path / "lib"))
    out = receiver()
    in_port = free_port()
    machida = os.path.join(os.path.dirname(workers.roo_bin), "machida3")
    worker = workers.spawn(
        [machida, "--application-module", "introspect", "--in", "src@127.0.0.1:%d" % in_port, "--out", out.address,
         "--metrics", "127.0.0.1:5001", "--control", "127.0.0.1:6000", "--data", "127.0.0.1:6001",
         "--external", "127.0.0.1:5050", "--cluster-initializer", "--ponythreads=1", "--ponynoblock"],
        env=worker_env([APPS, str(tmp_path / "lib")]))
    worker.wait_ready()
    send_frames(in_port, [frame("x")])
    lines = out.wait_for_lines(1)
    assert worker.stop() == 0
    assert lines[0].split("|")[:2] == ["x", "X!"]
    # --metrics is Wallaroo's metrics stream (test_metrics_stream.py); no Monitoring Hub listens here.
    assert "cannot reach the metrics receiver at 127.0.0.1:5001 (connection refused); retrying" in worker.stderr()


def test_roo_flags_after_the_app_reach_it_with_a_note(workers, receiver, tmp_path):
    write_helper(str(tmp_path / "lib"))
    app = os.path.join(APPS, "introspect.py")

    def launch(in_port, out):
        return workers.run(app, "--in", "src@127.0.0.1:%d" % in_port, "--log-level", "debug",
                           "--drain-timeout=3", "--out", out.address, env=worker_env([str(tmp_path / "lib")]))

    rows = run_introspect(workers, receiver, launch)
    assert rows[0][2].endswith(" --log-level debug --drain-timeout=3 --out %s" % rows[0][2].split()[-1])
    err = workers.started[0].stderr()
    for flag in ("--log-level", "--drain-timeout"):
        note = ("roo run: note: %s after the application is passed to it; put Roo's flags before %s\n"
                % (flag, app))
        assert err.count(note) == 1, err
    assert err.startswith("roo run: note: --log-level ")
    assert " D roo." not in err, "the log level stays info: --log-level after APP is the application's"


def run_cli(argv, cwd=REPO):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=worker_env(), cwd=cwd)
    return done.returncode, done.stdout, done.stderr


def test_machida_help_and_missing_module_flag(machida_bin):
    code, out, err = run_cli([machida_bin, "--help"])
    assert code == 0 and out.startswith("usage: machida --application-module MODULE")
    assert ("MODULE is imported from PYTHONPATH or the active virtualenv\n(VIRTUAL_ENV), not from the current "
            "folder.") in out
    code, out, err = run_cli([machida_bin, "--in", "a@127.0.0.1:1"])
    assert code == 2
    assert err == "machida: unable to start: --application-module is required (the Python module of the application)\n"


@pytest.mark.parametrize("flags, message", [
    (["--worker-count", "3"], "use --worker-count 3: only the initializer (--cluster-initializer) takes --worker-count"),
    (["--my-data", "127.0.0.1:1", "--data", "127.0.0.1:2"],
     "use --data on a worker that is not the initializer: it listens on --my-data instead"),
    (["--join", "127.0.0.1:6000", "--name", "w3", "--my-control", "127.0.0.1:6001"],
     "join the cluster: a worker that is not the initializer needs --control or --join (the initializer's control "
     "address), --my-control, --my-data and --name"),
    (["--join", "127.0.0.1:6000", "--control", "127.0.0.1:6000", "--name", "w3", "--my-control", "127.0.0.1:6001",
      "--my-data", "127.0.0.1:6002"],
     "use --join with --control: give one (both name the initializer's control address; --join adds this worker to "
     "a running cluster)"),
    (["--join", "127.0.0.1:6000", "--cluster-initializer"],
     "use --join with --cluster-initializer: the initializer starts the cluster; --join adds a worker to a running "
     "one"),
    (["--run-with-resilience", "--resilience-dir", "/nonexistent-roo"],
     "use --resilience-dir /nonexistent-roo: no such directory (create it first)"),
])
def test_flags_that_do_not_go_together_say_so_in_one_line(roo_bin, machida_bin, flags, message):
    code, out, err = run_cli([roo_bin, "run", os.path.join(APPS, "introspect.py"), "--in", "a@127.0.0.1:1",
                              "--out", "127.0.0.1:2"] + flags)
    assert (code, err) == (2, "roo run: unable to %s\n" % message)
    if "--join" in flags:  # machida takes the same Wallaroo flags
        code, out, err = run_cli([machida_bin, "--application-module", "introspect", "--in", "a@127.0.0.1:1",
                                  "--out", "127.0.0.1:2"] + flags)
        assert (code, err) == (2, "machida: unable to %s\n" % message)


def test_a_port_in_use_is_a_one_line_failure(roo_bin):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        echo = os.path.join(os.path.dirname(APPS), "apps", "echo.py")
        code, out, err = run_cli([roo_bin, "run", "--log-level", "error", echo, "--in", "src@127.0.0.1:%d" % port,
                                  "--out", "127.0.0.1:1"])
    assert code == 1
    assert err == "roo run: unable to listen on 127.0.0.1:%d for source 'src': address already in use\n" % port


def test_standard_library_extension_modules_import_and_work(workers, receiver):
    out = receiver()
    in_port = free_port()
    worker = workers.run(os.path.join(APPS, "stdlib_imports.py"), "--in", "src@127.0.0.1:%d" % in_port,
                         "--out", out.address)
    send_frames(in_port, [frame("roo")])
    lines = out.wait_for_lines(1)
    assert worker.stop() == 0
    assert lines == ['["roo", "1f251d9a", "0.25", 2539417229, 3]']


def test_machida_does_not_import_from_the_current_folder(machida_bin, tmp_path):
    # What `machida --help` says: a module in the working directory is not found (no stray file shadows
    # a module); PYTHONPATH finds it.
    with open(os.path.join(APPS, "introspect.py")) as f:
        (tmp_path / "introspect_here.py").write_text(f.read())
    flags = ["--application-module", "introspect_here", "--in", "a@127.0.0.1:1", "--out", "127.0.0.1:2"]
    code, out, err = run_cli([machida_bin] + flags, cwd=str(tmp_path))
    assert (code, err) == (2, "machida: unable to import application module 'introspect_here': "
                              "ModuleNotFoundError: No module named 'introspect_here'\n")


def test_roo_run_help_names_app_workers_and_every_log_level(roo_bin):
    code, out, err = run_cli([roo_bin, "run", "--help"])
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "Run a Wallaroo application, in one worker or a local cluster"
    assert lines[1] == "Usage: roo run [OPTIONS] APP [APPLICATION AND WALLAROO FLAGS...]"
    assert "--log-level TEXT:{trace, debug, info, warn, error, critical, off}=info" in out
    workers = [line for line in lines if line.lstrip().startswith("--workers")]
    assert workers == ["  --workers INT=1             Number of local worker processes: 1 runs one plain worker, "
                       "more start a cluster; also accepted after APP"]
