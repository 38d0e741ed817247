"""Runs a shipped source connector: one ``MultiSourceConnector`` session with the worker of the app's
``SourceConnectorConfig`` (host, port, cookie), one stream per ``BaseSource`` the connector makes.

The script waits for the worker (retrying every second), stops on SIGTERM/SIGINT (exit 0), when every source has
ended and its end was acknowledged (exit 0), or with one line when the worker refuses or drops the session or a
source fails (exit 1). Payloads go to the worker unchanged: the app's decoder reads them (the config's encoder is
not used).
"""

import os
import signal
import socket
import sys
import threading
from ..experimental.app_connector_configs import SOURCE
from ..experimental.connector_errors import ConnectorError, ProtocolError
from ..experimental.source_connectors import PROTOCOL_VERSION, MultiSourceConnector
from ._script import ScriptSettings, fail

CONNECT_RETRY_S = 1.0


class SourceFailed(Exception):
    """A source cannot go on (its system's error, in one line)."""


class ShippedSourceConnector(MultiSourceConnector):
    """A ``MultiSourceConnector`` that remembers why it stopped when a source's own system failed."""

    def __next__(self):
        try:
            return MultiSourceConnector.__next__(self)
        except SourceFailed as e:
            self.error = e
            self.shutdown()
            return None

    next = __next__


def _connect(connector, program, stop):
    """Open the session, retrying every second while the worker is not listening; False if stopped first."""
    waiting_said = False
    while not stop.is_set():
        try:
            connector.connect()
            return True
        except ConnectionRefusedError:
            if not waiting_said:
                sys.stderr.write("{0}: waiting for the worker at {1}:{2}\n".format(
                    program, connector.host, connector.port))
                sys.stderr.flush()
                waiting_said = True
            stop.wait(CONNECT_RETRY_S)
    return False


def run_source(program, make_sources, required=(), optional=(), argv=None):
    """Parse the flags, make the sources (``make_sources(settings)`` → a list of ``BaseSource``), feed the worker
    until the end. ``program`` names the connector in its messages."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings = ScriptSettings(SOURCE, argv, required, optional)
        sources = make_sources(settings)
    except (ConnectorError, SourceFailed) as e:
        fail(program, e, 2 if isinstance(e, ConnectorError) else 1)
    connector = ShippedSourceConnector(PROTOCOL_VERSION, settings.config[6], settings.params.connector_name,
                                       "{0}-{1}".format(socket.gethostname(), os.getpid()), settings.host,
                                       settings.port)
    for source in sources:
        connector.add_source(source)
    stop = threading.Event()

    def stop_on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    try:
        connected = _connect(connector, program, stop)
    except (OSError, ConnectorError, ProtocolError) as e:
        fail(program, "unable to open a session with the worker at {0}:{1}: {2}".format(
            settings.host, settings.port, e))
    while connected and not connector.join(0.2):
        if stop.is_set():
            connector.shutdown()
    for source in sources:
        source.close()
    if connector.error is not None and not stop.is_set():
        fail(program, "stopped: {0}".format(connector.error))
