"""Every example under examples/ end to end, against its exact expected output.

Each example folder has example.json (module, sources with their input files and
formats, output kind, ordering rule) and expected.txt. The ordering rules:
* "exact": the output is exactly expected.txt, in order (one key, so FIFO end to end);
* "per_key": the same multiset of lines, and for every key (key_regex group 1) the
  lines come in expected.txt's order (per-key FIFO; keys interleave freely);
* "any": the same multiset of lines.
Also checked without Roo: the offline reference run of each app gives expected.txt,
and make_data.py reproduces the committed data files byte for byte.
"""
import filecmp
import os
import re
import signal
import subprocess
import sys

import pytest

from conftest import EXAMPLES, REPO, free_port, send_frames, wait_until

sys.path.insert(0, os.path.join(REPO, "python"))
import run_offline  # noqa: E402  (examples/run_offline.py, on sys.path via conftest)

EXAMPLE_NAMES = sorted(d for d in os.listdir(EXAMPLES)
                       if os.path.isfile(os.path.join(EXAMPLES, d, "example.json")))


def load(name):
    return run_offline.load_example(os.path.join(EXAMPLES, name))


def expected_lines(spec):
    with open(os.path.join(spec["dir"], spec["expected"]), encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def check_output(spec, actual, expected):
    """Assert `actual` lines match `expected` under the example's ordering rule."""
    order = spec["order"]
    if order == "exact":
        assert actual == expected
        return
    assert sorted(actual) == sorted(expected), "output differs from %s as a multiset" % spec["expected"]
    if order == "per_key":
        key_re = re.compile(spec["key_regex"])

        def by_key(lines):
            groups = {}
            for line in lines:
                groups.setdefault(key_re.match(line).group(1), []).append(line)
            return groups
        actual_groups, expected_groups = by_key(actual), by_key(expected)
        for key, lines in expected_groups.items():
            assert actual_groups[key] == lines, "per-key order broken for key %r" % key
    else:
        assert order == "any", order


def output_lines(spec, receiver):
    if spec["output"] == "framed":
        return [f.decode("utf-8") for f in receiver.frames()]
    return receiver.lines()


def assert_no_partial_output(spec, receiver):
    """Every connection's bytes end at a record boundary (no stray partial line or frame)."""
    for buf in receiver.per_connection():
        if spec["output"] == "framed":
            at = 0
            while at < len(buf):
                at += 4 + int.from_bytes(buf[at:at + 4], "big")
            assert at == len(buf), "a partial frame at the end of a sink connection"
        else:
            assert buf == b"" or buf.endswith(b"\n"), "a partial line at the end of a sink connection"


def test_every_example_is_listed():
    assert EXAMPLE_NAMES == ["alerts_stateful", "alerts_stateless", "alphabet", "celsius",
                             "loyalty", "reverse", "windowed_alerts", "word_count"]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_offline_reference_run_matches_expected(name):
    """run_offline.py (wallaroo.testing) against expected.txt, which make_data.py computes on its own."""
    spec = load(name)
    outputs = run_offline.run_example(spec["dir"])
    data = b"".join(outputs.values())
    if spec["output"] == "framed":
        lines, at = [], 0
        while at < len(data):
            n = int.from_bytes(data[at:at + 4], "big")
            lines.append(data[at + 4:at + 4 + n].decode("utf-8"))
            at += 4 + n
    else:
        lines = data.decode("utf-8").split("\n")[:-1]
    expected = expected_lines(spec)
    if spec["order"] == "any":
        assert sorted(lines) == sorted(expected)
    elif name == "windowed_alerts":
        # expected.txt lists each sensor's alerts together; windows fire in time order, sensors interleaved.
        check_output(spec, lines, expected)
    else:
        assert lines == expected


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_make_data_reproduces_committed_files(name, tmp_path):
    folder = os.path.join(EXAMPLES, name)
    subprocess.run([sys.executable, os.path.join(folder, "make_data.py"), "--out-dir", str(tmp_path)],
                   check=True, timeout=30)
    written = sorted(os.listdir(str(tmp_path)))
    assert "expected.txt" in written
    for file_name in written:
        assert filecmp.cmp(os.path.join(folder, file_name), os.path.join(str(tmp_path), file_name),
                           shallow=False), "%s/%s is stale: rerun make_data.py" % (name, file_name)


def start_example(workers, spec, receiver, launcher="roo"):
    """Start the example's worker; return (worker, {source name: port})."""
    ports = dict((s["name"], free_port()) for s in spec["sources"])
    args = []
    if ports:
        args += ["--in", ",".join("%s@127.0.0.1:%d" % (name, port) for name, port in ports.items())]
    args += ["--out", receiver.address] + spec["app_args"]
    if launcher == "roo":
        app = os.path.join(spec["dir"], spec["module"] + ".py")
        worker = workers.run(app, *args, label=spec["module"])
    else:
        wallaroo_flags = ["--metrics", "127.0.0.1:%d" % free_port(),
                          "--control", "127.0.0.1:%d" % free_port(),
                          "--data", "127.0.0.1:%d" % free_port(),
                          "--external", "127.0.0.1:%d" % free_port(),
                          "--cluster-initializer", "--worker-count", "1",
                          "--name", "initializer", "--ponythreads=1", "--ponynoblock"]
        worker = workers.machida(spec["module"], spec["dir"], *(args + wallaroo_flags),
                                 label=spec["module"] + "-machida")
    return worker, ports


def run_and_check(workers, receiver, name, launcher="roo"):
    spec = load(name)
    expected = expected_lines(spec)
    out = receiver()
    worker, ports = start_example(workers, spec, out, launcher)
    for source in spec["sources"]:
        send_frames(ports[source["name"]], run_offline.input_frames(spec["dir"], source))
    out.wait_for(lambda r: len(output_lines(spec, r)) >= len(expected), timeout=20)
    out.wait_quiet(0.3)
    check_output(spec, output_lines(spec, out), expected)
    assert_no_partial_output(spec, out)
    assert worker.stop(signal.SIGTERM) == 0


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_end_to_end(workers, receiver, name):
    run_and_check(workers, receiver, name)


@pytest.mark.parametrize("name", ["alphabet", "loyalty"])
def test_example_through_machida(workers, receiver, name):
    run_and_check(workers, receiver, name, launcher="machida")


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_readme_commands_roo_receive_run_send(workers, roo_bin, tmp_path, name):
    """The README's three commands: roo receive [--framed], roo run, roo send."""
    spec = load(name)
    expected = expected_lines(spec)
    in_ports = dict((source["name"], free_port()) for source in spec["sources"])
    out_port = free_port()
    received = open(str(tmp_path / "received.txt"), "wb")
    receive_log = open(str(tmp_path / "receive.stderr"), "wb")
    framed = ["--framed"] if spec["output"] == "framed" else []
    receive = subprocess.Popen([roo_bin, "receive", "--listen", "127.0.0.1:%d" % out_port,
                                "--expect", str(len(expected))] + framed,
                               stdout=received, stderr=receive_log)
    try:
        assert wait_until(lambda: "Listening on 127.0.0.1:%d" % out_port in
                          open(str(tmp_path / "receive.stderr")).read(), 5)
        ins = ["--in", ",".join("%s@127.0.0.1:%d" % item for item in in_ports.items())] if in_ports else []
        worker = workers.run(os.path.join(spec["dir"], spec["module"] + ".py"),
                             *(ins + ["--out", "127.0.0.1:%d" % out_port]))
        for source in spec["sources"]:
            count = len(run_offline.input_frames(spec["dir"], source))
            binary = (["--binary", "--msg-size", str(source["msg_size"])]
                      if source["format"] == "binary" else [])
            send = subprocess.run([roo_bin, "send", "--host", "127.0.0.1:%d" % in_ports[source["name"]],
                                   "--file", os.path.join(spec["dir"], source["file"])] + binary +
                                  ["--messages", str(count), "--no-write"],
                                  capture_output=True, timeout=30, cwd=str(tmp_path))
            assert send.returncode == 0, send.stderr
        assert receive.wait(timeout=20) == 0
        received.close()
        with open(str(tmp_path / "received.txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")[:-1]
        check_output(spec, lines, expected)
        assert worker.stop(signal.SIGTERM) == 0
    finally:
        if receive.poll() is None:
            receive.kill()
            receive.wait()
        received.close()
        receive_log.close()


def test_generator_example_with_flags(workers, receiver):
    """App flags reach application_setup: fewer transactions, another threshold."""
    spec = load("alerts_stateless")
    out = receiver()
    worker = workers.run(os.path.join(spec["dir"], "alerts_stateless.py"), "--out", out.address,
                         "--transactions", "200", "--threshold", "1500")
    expected = ["ALERT: transaction %d amount %d is over 1500" % (t, (t * 7919 + 13) % 2000 + 1)
                for t in range(1, 201) if (t * 7919 + 13) % 2000 + 1 > 1500]
    out.wait_for(lambda r: len(r.lines()) >= len(expected), timeout=20)
    out.wait_quiet(0.3)
    assert out.lines() == expected
    assert worker.stop(signal.SIGTERM) == 0


@pytest.mark.parametrize("name", ["alerts_stateless", "alerts_stateful", "windowed_alerts"])
@pytest.mark.parametrize("cluster_flags,generates", [
    ([], True),
    (["--cluster-initializer", "--control", "127.0.0.1:6000", "--data", "127.0.0.1:6001"], True),
    (["--control", "127.0.0.1:6000", "--name", "worker2"], False),
    (["--join", "127.0.0.1:6000", "--name", "worker3"], False),
])
def test_generator_examples_generate_only_on_the_initializer(name, cluster_flags, generates):
    """Offline: the generator yields transactions only on the initializer or a lone worker."""
    import wallaroo
    spec = load(name)
    sys.path.insert(0, spec["dir"])
    try:
        module = __import__(spec["module"])
    finally:
        sys.path.remove(spec["dir"])
    args = ["--out", "127.0.0.1:7002"] + cluster_flags
    wallaroo._ARGS = tuple(["machida"] + args)
    (_app, _root, vs, _es) = module.application_setup(args)
    source = vs[0][0]
    assert source[0] == "source" and source[2][0] == "gen"
    first = source[2][-1].initial_value()
    assert (first is not None) == generates


@pytest.mark.parametrize("name", ["alphabet", "word_count", "alerts_stateless", "alerts_stateful",
                                  "windowed_alerts", "loyalty"])
def test_example_in_a_two_worker_cluster(workers, receiver, name):
    """`roo run --workers 2`: keys spread over both workers, generators run only on the
    initializer; the output is the same as with one worker (input goes to the initializer)."""
    spec = load(name)
    expected = expected_lines(spec)
    out = receiver()
    # worker1 listens on each --in port + 1.
    ports = dict((s["name"], free_port(span=2)) for s in spec["sources"])
    args = []
    if ports:
        args += ["--in", ",".join("%s@127.0.0.1:%d" % (n, p) for n, p in ports.items())]
    args += ["--out", out.address] + spec["app_args"]
    cluster = workers.run("--workers", "2", os.path.join(spec["dir"], spec["module"] + ".py"), *args,
                          ready=False, label=name + "-cluster")
    for worker_name in ("initializer", "worker1"):
        assert cluster.wait_for_log("%s: |~~ INIT PHASE III: Application is ready to work! ~~|"
                                    % worker_name, timeout=20), cluster.stderr()
    for source in spec["sources"]:
        send_frames(ports[source["name"]], run_offline.input_frames(spec["dir"], source))
    out.wait_for(lambda r: len(output_lines(spec, r)) >= len(expected), timeout=20)
    out.wait_quiet(0.5)
    check_output(spec, output_lines(spec, out), expected)
    assert_no_partial_output(spec, out)
    if spec["order"] == "per_key":
        # Keyed state lives on both workers, so both workers' sink connections carry output.
        assert [len(b) > 0 for b in out.per_connection()] == [True, True]
    assert cluster.stop(signal.SIGTERM) == 0
