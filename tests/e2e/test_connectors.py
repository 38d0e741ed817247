"""wallaroo.experimental in a running app: an app that imports it (and decorates with its codecs) but reads and
writes over TCP runs as any other. Connector sources and sinks run: tests/e2e/test_connector_source.py,
test_connector_sink.py and test_connector_faults.py.
"""
import os
import signal

from conftest import APPS, frame, free_port, send_frames

APP = os.path.join(APPS, "connectors.py")


def test_an_app_importing_wallaroo_experimental_runs_over_tcp(workers, receiver):
    out = receiver()
    port = free_port()
    worker = workers.run(APP, "--in", "Words@127.0.0.1:%d" % port, "--out", out.address, "--use", "none")
    words = ["alpha", "beta", "gamma", "delta"]
    send_frames(port, [frame(w.encode()) for w in words])
    assert out.wait_for(lambda r: len(r.lines()) >= len(words), timeout=20), worker.stderr()
    out.wait_quiet(0.3)
    assert out.lines() == ["ALPHA", "BETA", "GAMMA", "DELTA"]
    assert worker.stop(signal.SIGTERM) == 0
