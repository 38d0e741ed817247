"""Connector clients that feed a connector source (spec §1.4, protocol §3.3).

``AtLeastOnceSourceConnector`` holds one session with a worker: HELLO/OK, then NOTIFY to open streams, MESSAGE
frames spending the worker's credits, EOS to end a stream. A reader thread handles what the worker sends
(NOTIFY_ACK, ACK, RESTART, ERROR) and calls the subclass's callbacks from that thread. A subclass that defines
``__next__`` is pulled by a writer thread while it has credits (``MultiSourceConnector`` does).
"""

import collections
import hashlib
import socket
import struct
import threading
import time

from . import connector_wire_messages as cwm
from .connector_errors import ConnectorError, ProtocolError
from .sources import U64_MAX

Stream = collections.namedtuple("Stream", ["id", "name", "point_of_ref", "is_open"])

PROTOCOL_VERSION = "0.0.1"
RECONNECT_INTERVAL_S = 1.0


class SourceConnector(object):
    """Wallaroo's one-shot, unacknowledged connector: disabled at Wallaroo's HEAD, and so here."""

    def __init__(self, *args, **kwargs):
        raise ConnectorError("SourceConnector uses unsupported connector protocol, please use "
                             "AtLeastOnceSourceConnector")


def _recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectorError("the worker closed the connection")
        data.extend(chunk)
    return bytes(data)


def _open_session_socket(host, port):
    """A connection to the worker without Nagle's delay: frames are small and the worker's credits come back only
    after it read them (with Nagle, 10 credits gave ~230 messages/s on loopback; without, ~10,000)."""
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_frame(sock):
    (length,) = struct.unpack(">I", _recv_exact(sock, 4))
    return cwm.Frame.decode(_recv_exact(sock, length))


class AtLeastOnceSourceConnector(object):
    """One connector session with the worker at ``host:port``; ``delay`` seconds between pulled messages."""

    def __init__(self, version, cookie, program_name, instance_name, host, port, delay=0):
        self.version = version
        self.cookie = cookie
        self.program_name = program_name
        self.instance_name = instance_name
        self.host = host
        self.port = int(port)
        self.delay = delay
        self.credits = 0
        self.error = None
        self.stopped = threading.Event()
        self._streams = {}
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._sock = None
        self._restarting = False  # between a RESTART and the streams' re-NOTIFY: nothing is pulled
        self._session = 0         # sessions restarted so far
        self._pull_session = 0    # the session the writer thread's current pull belongs to
        self._threads = []

    # ------------------------------------------------------------------ callbacks for subclasses

    def stream_added(self, stream):
        """A stream was notified (optional)."""

    def stream_removed(self, stream):
        """A stream ended and was acknowledged (optional)."""

    def stream_opened(self, stream):
        raise NotImplementedError("{0} must define stream_opened(stream)".format(type(self).__name__))

    def stream_closed(self, stream):
        raise NotImplementedError("{0} must define stream_closed(stream)".format(type(self).__name__))

    def stream_acked(self, stream):
        raise NotImplementedError("{0} must define stream_acked(stream)".format(type(self).__name__))

    def handle_restarted(self, streams):
        """After a RESTART and reconnect: notify every known stream again, from its last point of reference."""
        for stream in streams:
            self.notify(stream.id, stream.name, stream.point_of_ref)

    # ------------------------------------------------------------------ session

    def connect(self):
        """Connect, HELLO, wait for OK (blocking); then handle the worker's frames in a background thread."""
        sock = _open_session_socket(self.host, self.port)
        try:
            sock.sendall(cwm.Frame.encode(cwm.Hello(self.version, self.cookie, self.program_name,
                                                    self.instance_name)))
            reply = _read_frame(sock)
        except Exception:
            sock.close()
            raise
        if isinstance(reply, cwm.Error):
            sock.close()
            raise ConnectorError(reply.message)
        if not isinstance(reply, cwm.Ok):
            sock.close()
            raise ProtocolError("expected OK after HELLO, got {0}".format(reply))
        with self._cond:
            self._sock = sock
            self.credits = reply.initial_credits
            self._cond.notify_all()
        self._start(self._read_loop, sock)
        if hasattr(self, "__next__") and not any(t.name == "connector-writer" for t in self._threads):
            self._start(self._pull_loop, name="connector-writer")

    def _start(self, target, *args, **kwargs):
        thread = threading.Thread(target=target, args=args, name=kwargs.get("name", "connector-reader"))
        thread.daemon = True
        self._threads.append(thread)
        thread.start()

    def notify(self, stream_id, name, point_of_ref=U64_MAX):
        """Ask the worker to open stream ``stream_id``; ``stream_opened`` follows when it agrees."""
        with self._cond:
            self._streams[stream_id] = Stream(stream_id, name, point_of_ref, False)
        self.stream_added(self._streams[stream_id])
        self.write(cwm.Notify(stream_id, name, point_of_ref))

    def end_of_stream(self, stream_id):
        """End stream ``stream_id`` (EOS); it is no longer open."""
        with self._cond:
            stream = self._streams.get(stream_id)
            if stream is not None:
                self._streams[stream_id] = stream._replace(is_open=False)
        self.write(cwm.EosMessage(stream_id))

    def write(self, msg):
        """Send one frame. MESSAGE and NOTIFY spend a credit (waiting for one); a MESSAGE needs an open stream."""
        self._write(msg, self._session)

    def _write(self, msg, session):
        """write(); a MESSAGE pulled in an earlier `session` (before a RESTART) is dropped: its stream resumes from
        the worker's point of reference after the re-NOTIFY, which reads it again."""
        if isinstance(msg, cwm.Message):
            stream = self._streams.get(msg.stream_id)
            if stream is None or not stream.is_open:
                raise ProtocolError("stream {0} is not open; notify it and wait for stream_opened"
                                    .format(msg.stream_id))
        spends = isinstance(msg, (cwm.Message, cwm.Notify))
        is_message = isinstance(msg, cwm.Message)
        with self._cond:
            while (self._sock is None or (is_message and self._restarting) or (spends and self.credits <= 0)) \
                    and not self.stopped.is_set():
                self._cond.wait(0.1)
            if self.stopped.is_set():
                raise ConnectorError("the connector has stopped{0}".format(
                    ": {0}".format(self.error) if self.error else ""))
            if is_message and session != self._session:
                return
            if spends:
                self.credits -= 1
            sock = self._sock
        try:
            with self._send_lock:
                sock.sendall(cwm.Frame.encode(msg))
        except OSError:
            with self._cond:
                replaced = self._restarting or sock is not self._sock
            if not replaced:
                raise
            # A RESTART closed this session under the write: the stream resumes from the worker's point of
            # reference after the re-NOTIFY, so this message is sent again then.

    def shutdown(self, error=None):
        """End the session; with ``error`` (a ``cwm.Error``), tell the worker why first."""
        with self._cond:
            sock, self._sock = self._sock, None
            self.stopped.set()
            self._cond.notify_all()
        if sock is not None:
            try:
                if isinstance(error, cwm.Error):
                    with self._send_lock:
                        sock.sendall(cwm.Frame.encode(error))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def join(self, timeout=None):
        """Wait until the connector stops (its source ran out, shutdown, or an error); True if it did."""
        return self.stopped.wait(timeout)

    # ------------------------------------------------------------------ background threads

    def _read_loop(self, sock):
        while not self.stopped.is_set():
            try:
                msg = _read_frame(sock)
                if isinstance(msg, cwm.Restart):
                    sock = self._restart(sock, msg.address)
                    continue
                self._handle(msg)
            except (OSError, ConnectorError, ProtocolError, struct.error) as e:
                if not self.stopped.is_set():
                    self.error = e
                    self.shutdown()
                return

    def _handle(self, msg):
        if isinstance(msg, cwm.NotifyAck):
            with self._cond:
                old = self._streams.get(msg.stream_id)
                if old is None:
                    return
                stream = Stream(old.id, old.name, msg.point_of_ref, msg.notify_success)
                self._streams[old.id] = stream
            (self.stream_opened if stream.is_open else self.stream_closed)(stream)
        elif isinstance(msg, cwm.Ack):
            with self._cond:
                self.credits += msg.credits
                self._cond.notify_all()
                acked = []
                for stream_id, por in msg.acks:
                    old = self._streams.get(stream_id)
                    if old is not None:
                        self._streams[stream_id] = old._replace(point_of_ref=por)
                        acked.append(self._streams[stream_id])
            for stream in acked:
                self.stream_acked(stream)
        elif isinstance(msg, cwm.Error):
            raise ConnectorError(msg.message)
        else:
            raise ProtocolError("{0} is never sent to a connector".format(msg))

    def _restart(self, sock, address):
        """RESTART: reconnect (to ``address`` when given), retrying every second, then re-notify the streams."""
        with self._cond:
            self._restarting = True
            self._session += 1
            self._sock = None
        sock.close()
        if address:
            host, port = address.rsplit(":", 1)
            self.host, self.port = host, int(port)
        while not self.stopped.is_set():
            try:
                fresh = _open_session_socket(self.host, self.port)
                fresh.sendall(cwm.Frame.encode(cwm.Hello(self.version, self.cookie, self.program_name,
                                                         self.instance_name)))
                reply = _read_frame(fresh)
                if not isinstance(reply, cwm.Ok):
                    raise ConnectorError("expected OK after HELLO, got {0}".format(reply))
            except (OSError, ConnectorError, ProtocolError):
                time.sleep(RECONNECT_INTERVAL_S)
                continue
            with self._cond:
                self._sock = fresh
                self.credits = reply.initial_credits
                streams = list(self._streams.values())
                for stream in streams:
                    self._streams[stream.id] = stream._replace(is_open=False)
                self._cond.notify_all()
            self.handle_restarted(streams)
            with self._cond:
                self._restarting = False
                self._cond.notify_all()
            return fresh
        return sock

    def _pull_loop(self):
        while not self.stopped.is_set():
            with self._cond:
                while (self.credits <= 0 or self._restarting) and not self.stopped.is_set():
                    self._cond.wait(0.1)
            if self.stopped.is_set():
                return
            try:
                session = self._pull_session = self._session
                msg = self.__next__()
            except StopIteration:
                self.shutdown()
                return
            if msg is None:
                time.sleep(0.01)
                continue
            try:
                self._write(msg, session)
            except (OSError, ConnectorError, ProtocolError) as e:
                if not self.stopped.is_set():
                    self.error = e
                    self.shutdown()
                return
            if self.delay:
                time.sleep(self.delay)


def stream_id_of(name):
    """A source's stream id: the first 16 hex digits of SHA-256 of its name, as an integer."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:16], 16)


class MultiSourceConnector(AtLeastOnceSourceConnector):
    """Feeds several sources (``BaseSource``), round robin, one stream each; stops once every source ended."""

    def __init__(self, version, cookie, program_name, instance_name, host, port, delay=0):
        AtLeastOnceSourceConnector.__init__(self, version, cookie, program_name, instance_name, host, port,
                                            delay)
        self.sources = {}       # stream id -> source, from add_source until the stream ends
        self._open = []         # stream ids whose stream is open, in round-robin order
        self._removing = {}     # stream id -> point of reference of its EOS
        # Sources are read by the writer thread and reset by the reader thread (a stream opened): one at a time.
        self._source_lock = threading.Lock()
        self._turn = 0

    def add_source(self, source):
        stream_id = stream_id_of(source.name)
        with self._cond:
            self.sources[stream_id] = source
            connected = self._sock is not None
        if connected:
            self.notify(stream_id, source.name, source.point_of_ref())
        return stream_id

    def remove_source(self, source):
        """End the source's stream (EOS); it is removed once the worker acknowledges it."""
        stream_id = stream_id_of(source.name)
        with self._cond:
            if stream_id in self._open:
                self._open.remove(stream_id)
            self._removing[stream_id] = source.point_of_ref()
        self.end_of_stream(stream_id)

    def connect(self):
        AtLeastOnceSourceConnector.connect(self)
        for stream_id, source in list(self.sources.items()):
            if stream_id not in self._streams:
                self.notify(stream_id, source.name, source.point_of_ref())

    def handle_restarted(self, streams):
        """After a RESTART no stream is open until the worker answers its NOTIFY again."""
        with self._cond:
            self._open = []
        AtLeastOnceSourceConnector.handle_restarted(self, streams)

    def stream_opened(self, stream):
        source = self.sources.get(stream.id)
        if source is None:
            return
        with self._source_lock:
            source.reset(stream.point_of_ref)
        with self._cond:
            if stream.id not in self._open:
                self._open.append(stream.id)

    def stream_closed(self, stream):
        with self._cond:
            if stream.id in self._open:
                self._open.remove(stream.id)
            source = self.sources.pop(stream.id, None)
        if source is not None:
            source.close()

    def stream_acked(self, stream):
        source = self.sources.get(stream.id)
        if source is not None:
            source.wallaroo_acked(stream.point_of_ref)
        eos_at = self._removing.get(stream.id)
        if eos_at is not None and stream.point_of_ref >= eos_at:
            del self._removing[stream.id]
            self.stream_closed(stream)
            self.stream_removed(stream)

    def __next__(self):
        with self._cond:
            session = self._pull_session
            order = list(self._open)
            pending = bool(self.sources)
        if not order:
            if not pending:
                raise StopIteration
            return None
        for i in range(len(order)):
            stream_id = order[(self._turn + i) % len(order)]
            source = self.sources.get(stream_id)
            if source is None:
                continue
            try:
                with self._source_lock:
                    if session != self._session:
                        return None  # a RESTART came: the stream is read again from where the worker says
                    payload, por = next(source)
            except StopIteration:
                self.remove_source(source)
                continue
            if payload is None:
                continue
            self._turn = (self._turn + i + 1) % len(order)
            return cwm.Message(stream_id, por, 0, source.key, payload)
        return None

    next = __next__
