"""The Kafka test broker as a process: tools/kafka/broker driven from Python (docs/testing.md, "The test broker").

`KafkaBroker(dir)` starts a single-node broker in `dir` on free loopback ports (retrying on new ports when another
process took one in between), and stops, kills and restarts it with its data and ports kept. Used by the pytest
`kafka` fixture (kafka_fixtures.py) and by ctest's `kafka.broker.start` (tests/kafka/broker_fixture.py).
"""
import os
import re
import subprocess

from loopback_ports import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROKER_SCRIPT = os.path.join(REPO, "tools", "kafka", "broker")

# tools/kafka/broker gives up after 60 s itself; this only guards against a hung script.
SCRIPT_TIMEOUT = 120


class BrokerError(RuntimeError):
    """tools/kafka/broker failed; the message is its one line plus the broker log's tail."""


class KafkaBroker(object):
    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        self.port = None
        self.controller_port = None

    @property
    def bootstrap(self):
        """"127.0.0.1:PORT", the address clients bootstrap from."""
        return "127.0.0.1:%d" % self.port

    @property
    def log_path(self):
        return os.path.join(self.dir, "broker.log")

    def start(self, attempts=3):
        """Start the broker (on the ports it had, else on new free ones) and wait until it is ready."""
        if self.port is not None:
            self._run("start", str(self.port), str(self.controller_port))
            return self
        for attempt in range(attempts):
            self.port, self.controller_port = free_port(), free_port()
            try:
                self._run("start", str(self.port), str(self.controller_port))
                return self
            except BrokerError as error:
                if attempt + 1 == attempts or "already in use" not in str(error):
                    self.port = self.controller_port = None
                    raise
        raise AssertionError("unreachable")

    def stop(self):
        """SIGTERM, then SIGKILL after 15 s; the data stays."""
        self._run("stop")

    def kill(self):
        """SIGKILL: a crash. start() or restart() brings the broker back with its data (about 10 s later than
        after stop(): the controller waits out the killed broker's 9 s session before it re-registers)."""
        self._run("kill")

    def restart(self):
        """stop() then start() on the same ports with the same data."""
        self._run("restart")

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _run(self, command, *args):
        result = subprocess.run([BROKER_SCRIPT, command, self.dir] + list(args), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=SCRIPT_TIMEOUT)
        if result.returncode != 0:
            raise BrokerError(result.stderr.decode("utf-8", "replace").strip())
        printed = result.stdout.decode().strip()
        if command in ("start", "restart") and not re.fullmatch(r"127\.0\.0\.1:\d+", printed):
            raise BrokerError("tools/kafka/broker %s printed %r, not the broker's address" % (command, printed))
        return printed
