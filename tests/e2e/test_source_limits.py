"""A TCP source under hostile or broken clients, with real processes: connections that send nothing (or trickle)
cannot hold the source's slots forever (--source-idle-timeout), the source says when it is at its connection limit,
and a worker out of file descriptors backs off instead of spinning, logging once.
"""
import os
import resource
import time

from conftest import APPS, connect, frame, free_port, send_frames

ECHO = os.path.join(APPS, "echo.py")


def cpu_ticks(pid):
    """utime + stime of `pid`, in clock ticks (/proc/<pid>/stat fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_idle_connections_do_not_keep_a_new_client_out(workers, receiver):
    out = receiver()
    port = free_port()
    worker = workers.spawn([workers.roo_bin, "run", "--source-idle-timeout", "2", ECHO, "--in",
                            "Echo@127.0.0.1:%d" % port, "--out", out.address]).wait_ready()
    # The source's parallelism is 10 (TCPSourceConfig's default): ten clients that send nothing take every slot.
    idle = [connect(port) for _ in range(10)]
    assert worker.wait_for_log("tcp_source 'Echo': at its limit of 10 connections (the source's parallelism); "
                               "new clients wait until one closes", timeout=10), worker.stderr()
    started = time.monotonic()
    send_frames(port, [frame("eleventh-%d" % i) for i in range(100)])
    assert out.wait_for(lambda r: len(r.lines()) >= 100, timeout=20), worker.stderr()
    waited = time.monotonic() - started
    assert out.lines() == ["eleventh-%d" % i for i in range(100)]
    assert waited >= 1.0, "served before the idle ones were closed: the test proves nothing"
    for s in idle:
        # The eleventh is served as soon as the first place frees: wait for every closing line, not just one.
        peer = "127.0.0.1:%d" % s.getsockname()[1]
        line = "tcp_source 'Echo': closing connection from %s: no complete frame in 2 s" % peer
        assert worker.wait_for_log(line, timeout=10), worker.stderr()
        s.close()
    log = worker.stderr()
    assert log.count("at its limit of 10 connections") == 1, log
    assert worker.stop() == 0
    assert ("tcp_source 'Echo': stopped (10 connections closed for a bad frame or no complete frame in time)"
            in worker.stderr())


def test_clients_resting_between_frames_do_not_keep_a_new_client_out(workers, receiver):
    out = receiver()
    port = free_port()
    worker = workers.spawn([workers.roo_bin, "run", "--source-idle-timeout", "1", ECHO, "--in",
                            "Echo@127.0.0.1:%d" % port, "--out", out.address]).wait_ready()
    # Ten clients each send one whole frame and then rest: every slot is taken by a well-behaved but idle sender.
    resting = []
    for i in range(10):
        s = connect(port)
        s.sendall(frame("resting-%d" % i))
        resting.append(s)
    assert out.wait_for(lambda r: len(r.lines()) >= 10, timeout=20), worker.stderr()
    send_frames(port, [frame("eleventh-%d" % i) for i in range(100)])
    assert out.wait_for(lambda r: len(r.lines()) >= 110, timeout=20), worker.stderr()
    assert sorted(out.lines()) == sorted(["resting-%d" % i for i in range(10)] +
                                         ["eleventh-%d" % i for i in range(100)])
    log = worker.stderr()
    assert ("idle between frames for 2 s while the source is at its limit of 10 connections\n") in log, log
    for s in resting:
        s.close()
    assert worker.stop() == 0


def test_a_worker_out_of_descriptors_backs_off_and_logs_once(workers, receiver):
    out = receiver()
    port = free_port()
    worker = workers.run(ECHO, "--in", "Echo@127.0.0.1:%d" % port, "--out", out.address)
    send_frames(port, [frame("before")])
    assert out.wait_for(lambda r: r.lines() == ["before"])
    # Leave the worker two free descriptor numbers under its limit: the third client's accept fails with EMFILE.
    in_use = set(int(fd) for fd in os.listdir("/proc/%d/fd" % worker.pid))
    limit = next(n for n in range(1, 65536) if n - len([fd for fd in in_use if fd < n]) == 2)
    soft, hard = resource.prlimit(worker.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(worker.pid, resource.RLIMIT_NOFILE, (limit, hard))
    clients = [connect(port) for _ in range(6)]
    message = ("tcp_source 'Echo': cannot accept a connection on 127.0.0.1:%d (too many open files); "
               "retrying every 1000 ms at most" % port)
    assert worker.wait_for_log(message, timeout=10), worker.stderr()
    before = cpu_ticks(worker.pid)
    time.sleep(2.0)
    used = cpu_ticks(worker.pid) - before
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    # A spinning acceptor uses ~2 s of CPU here; backing off, a few milliseconds. Generous for a loaded machine.
    print("out of descriptors: the worker used %d of %d CPU ticks in 2 s" % (used, 2 * ticks_per_second))
    assert used < 0.25 * ticks_per_second * 2, "worker used %d ticks in 2 s" % used
    assert worker.stderr().count(message) == 1
    # Descriptors come back: the waiting clients are served.
    resource.prlimit(worker.pid, resource.RLIMIT_NOFILE, (soft, hard))
    for i, c in enumerate(clients):
        c.sendall(frame("client-%d" % i))
    assert out.wait_for(lambda r: len(r.lines()) == 7, timeout=10), worker.stderr()
    assert sorted(out.lines()[1:]) == ["client-%d" % i for i in range(6)]
    assert worker.wait_for_log("tcp_source 'Echo': accepting connections again after ", timeout=5)
    for c in clients:
        c.close()
    assert worker.stop() == 0
