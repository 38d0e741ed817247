"""Runs a shipped sink connector: it listens where the app's ``SinkConnectorConfig`` says and speaks the sink side of
the connector protocol (spec §3.3) with the worker that connects.

* HELLO with the config's cookie (compared in constant time; a bad one gets ERROR "Bad cookie" and the connection
  closes) → OK; NOTIFY → NOTIFY_ACK with the same point of reference; stream-1 MESSAGEs → the payload decoded with
  the config's decoder, handed to the sink's ``write``; EOS → nothing.
* Stream 0 (two-phase commit): LIST_UNCOMMITTED → none; PHASE1 → the sink commits (what it wrote is durable in its
  system) and votes commit; PHASE2 → nothing to do: every write is already final. With a worker that runs these
  rounds the guarantee is at-least-once (a rolled-back checkpoint's output is written again); without them, what the
  sink had not flushed when it stopped is lost.
* The sink flushes whenever it has handled everything the worker sent so far, before it waits for more.
* Every worker that connects gets a session (a thread) of its own; the sink is used by one at a time.
  SIGTERM/SIGINT: flush, exit 0. A value the sink cannot write, or its system's error: ERROR to the worker, one
  line, exit 1.
"""

import hmac
import signal
import socket
import struct
import sys
import threading

from ..experimental import connector_wire_messages as cwm
from ..experimental.app_connector_configs import SINK
from ..experimental.connector_errors import ConnectorError, ProtocolError
from ..experimental import connector_two_phase as tpc
from ._script import ScriptSettings, fail

MAX_FRAME_BEFORE_HELLO = 4096
MAX_FRAME = 16 * 1024 * 1024
CREDITS = 1000  # sinks use TCP backpressure; OK still carries a number
ACCEPT_POLL_S = 0.2


class SinkFailed(Exception):
    """The sink cannot write (a value of the wrong kind, or its system's error), in one line."""


class Sink(object):
    """What a shipped sink defines: ``write(value)`` (a decoded message), ``flush()`` (hand what was written to the
    system), ``commit()`` (make it durable before a commit vote; default: flush), ``close()``."""

    def write(self, value):
        raise NotImplementedError

    def flush(self):
        pass

    def commit(self):
        self.flush()

    def close(self):
        pass


def as_bytes(value, what):
    """A decoded value as bytes: bytes as they are, str in UTF-8; anything else is a ``SinkFailed``."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise SinkFailed("{0} takes bytes or str from the decoder, got {1}".format(what, type(value).__name__))


class _Stop(Exception):
    pass


class SharedSink(object):
    """The sink as the sessions of several workers use it: one call at a time."""

    def __init__(self, sink):
        self._sink = sink
        self._lock = threading.Lock()

    def write(self, value):
        with self._lock:
            self._sink.write(value)

    def flush(self):
        with self._lock:
            self._sink.flush()

    def commit(self):
        with self._lock:
            self._sink.commit()


class SinkSession(object):
    """One worker connection: frames in, the sink's writes and the two-phase-commit replies out."""

    def __init__(self, conn, cookie, decoder, sink):
        self.conn = conn
        self.cookie = cookie.encode("utf-8")
        self.decoder = decoder
        self.sink = sink  # a SharedSink
        self.greeted = False
        self.buffer = bytearray()

    def run(self, stop):
        """Until the worker closes (returns) or ``stop`` is set (raises ``_Stop``)."""
        self.conn.settimeout(ACCEPT_POLL_S)
        while True:
            body = self._next_frame()
            if body is None:
                self.sink.flush()
                if not self._fill(stop):
                    return
                continue
            self._handle(cwm.Frame.decode(body))

    def _fill(self, stop):
        while not stop.is_set():
            try:
                chunk = self.conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return False
            if not chunk:
                return False
            self.buffer.extend(chunk)
            return True
        raise _Stop()

    def _next_frame(self):
        if len(self.buffer) < 4:
            return None
        (length,) = struct.unpack(">I", self.buffer[:4])
        limit = MAX_FRAME if self.greeted else MAX_FRAME_BEFORE_HELLO
        if length > limit:
            raise ProtocolError("a frame of {0} bytes is over the limit of {1}".format(length, limit))
        if len(self.buffer) < 4 + length:
            return None
        body = bytes(self.buffer[4:4 + length])
        del self.buffer[:4 + length]
        return body

    def send(self, msg):
        self.conn.sendall(cwm.Frame.encode(msg))

    def _handle(self, msg):
        if isinstance(msg, cwm.Hello):
            if not hmac.compare_digest(msg.cookie.encode("utf-8"), self.cookie):
                self.send(cwm.Error("Bad cookie"))
                raise ProtocolError("the worker's HELLO has a bad cookie")
            self.greeted = True
            self.send(cwm.Ok(CREDITS))
        elif not self.greeted:
            raise ProtocolError("{0} before HELLO".format(type(msg).__name__))
        elif isinstance(msg, cwm.Notify):
            self.send(cwm.NotifyAck(True, msg.stream_id, msg.point_of_ref))
        elif isinstance(msg, cwm.Message) and msg.stream_id == 0:
            self._two_phase(msg.message or b"")
        elif isinstance(msg, cwm.Message):
            self.sink.write(self.decoder.decode(msg.message or b""))
        elif isinstance(msg, cwm.Error):
            raise ConnectorError("the worker ended the session: {0}".format(msg.message))
        elif not isinstance(msg, cwm.EosMessage):
            raise ProtocolError("{0} is never sent to a sink connector".format(type(msg).__name__))

    def _two_phase(self, payload):
        msg = tpc.decode(payload)
        if isinstance(msg, tpc.ListUncommitted):
            self._reply(tpc.encode(tpc.ReplyUncommitted(msg.rtag, [])))
        elif isinstance(msg, tpc.Phase1):
            self.sink.commit()
            self._reply(tpc.encode(tpc.Phase1Reply(msg.txn_id, True)))
        elif not isinstance(msg, (tpc.Phase2, tpc.WorkersLeft)):
            raise ProtocolError("{0} is never sent to a sink connector".format(type(msg).__name__))

    def _reply(self, payload):
        self.send(cwm.Message(0, 0, 0, None, payload))


def _listen(host, port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(16)
    listener.settimeout(ACCEPT_POLL_S)
    return listener


class _Sessions(object):
    """The workers' connections, one thread each; the first sink failure ends them all."""

    def __init__(self, program, settings, sink, stop):
        self.program = program
        self.cookie, self.decoder = settings.config[6], settings.config[5]
        self.sink = SharedSink(sink)
        self.stop = stop
        self.failure = None
        self.threads = []

    def start(self, conn):
        thread = threading.Thread(target=self._run, args=(conn,), name="sink-session", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def _run(self, conn):
        session = SinkSession(conn, self.cookie, self.decoder, self.sink)
        try:
            session.run(self.stop)
            self.sink.flush()
        except _Stop:
            self._flush_quietly()
        except (ProtocolError, ConnectorError, OSError) as e:
            sys.stderr.write("{0}: the worker's connection ended: {1}\n".format(self.program, e))
            self._flush_quietly()
        except SinkFailed as e:
            try:
                session.send(cwm.Error(str(e)[:1000]))
            except OSError:
                pass
            if self.failure is None:
                self.failure = e
            self.stop.set()
        finally:
            conn.close()

    def _flush_quietly(self):
        try:
            self.sink.flush()
        except SinkFailed as e:
            if self.failure is None:
                self.failure = e
            self.stop.set()

    def join(self):
        for thread in self.threads:
            thread.join()


def _serve(program, listener, settings, sink, stop):
    """Accept workers until ``stop``; raises the first ``SinkFailed`` of a session."""
    sessions = _Sessions(program, settings, sink, stop)
    try:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            sessions.start(conn)
    finally:
        listener.close()
        sessions.join()
    if sessions.failure is not None:
        raise sessions.failure


def run_sink(program, make_sink, required=(), optional=(), argv=None):
    """Parse the flags, make the sink (``make_sink(settings)`` → a ``Sink``), serve workers until stopped."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings = ScriptSettings(SINK, argv, required, optional)
        sink = make_sink(settings)
    except ConnectorError as e:
        fail(program, e, 2)
    except SinkFailed as e:
        fail(program, e)
    stop = threading.Event()

    def stop_on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    try:
        listener = _listen(settings.host, settings.port)
    except OSError as e:
        _close_quietly(sink)
        fail(program, "unable to listen on {0}:{1}: {2}".format(settings.host, settings.port, e))
    try:
        _serve(program, listener, settings, sink, stop)
        sink.close()
    except SinkFailed as e:
        _close_quietly(sink)
        fail(program, e)


def _close_quietly(sink):
    """After a failure, which is what gets reported."""
    try:
        sink.close()
    except (SinkFailed, OSError):
        pass
