"""Connector clients that feed a connector source (spec §1.4, protocol §3.3).

``AtLeastOnceSourceConnector`` holds one session with a worker: HELLO/OK, then NOTIFY to open streams, MESSAGE
frames spending the worker's credits, EOS to end a stream. A reader thread handles what the worker sends
(NOTIFY_ACK, ACK, RESTART, ERROR) and calls the subclass's callbacks from that thread. A subclass that defines
``__next__`` is pulled by a writer thread while it has credits (``MultiSourceConnector`` does).

When the worker's connection ends without an ERROR (the worker was killed, or restarts after a rollback and sends
RESTART), the connector reconnects every second and notifies its streams again: the worker's NOTIFY_ACK says where
each stream resumes (its last checkpointed point of reference), so a killed and restarted worker needs no restart of
its connectors. ``reconnect_on_loss = False`` ends the connector instead (its ``error`` says why).
"""

import collections
import hashlib
import socket
import struct
import threading
import time

from . import connector_wire_messages as cwm
from .connector_errors import ConnectionLost, ConnectorError, ProtocolError
from .sources import U64_MAX

Stream = collections.namedtuple("Stream", ["id", "name", "point_of_ref", "is_open"])
# MESSAGEs of one stream already encoded as whole frames (the pull loop's fast path): the stream id, the frames'
# bytes and how many there are (each spends a credit).
Encoded = collections.namedtuple("Encoded", ["stream_id", "frame", "count"])
# A MESSAGE frame's head: u32 length, u8 type, u64 stream id, u64 message id, i64 event time, u16 key length.
_MESSAGE_HEAD = struct.Struct(">IBQQqH")
_MESSAGE_BODY_HEAD = 1 + 8 + 8 + 8 + 2

PROTOCOL_VERSION = "0.0.1"
RECONNECT_INTERVAL_S = 1.0
PULL_BATCH = 256  # messages pulled and sent at a time, at most (and never more than the credits)
PULL_RUN = 32     # records of one stream pulled in a row before the next stream's turn
EOS_MARK = object()


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
            raise ConnectionLost("the worker closed the connection")
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

    reconnect_on_loss = True

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
        if not self._send(msg):
            raise ProtocolError("stream {0} is not open; notify it and wait for stream_opened".format(msg.stream_id))

    def _before_pull(self):
        """Called by the writer thread before each batch it pulls."""

    def _opening(self, stream):
        """The worker opened ``stream``: called with the lock held, as the stream turns open, so that the writer
        never sees it open without what the subclass notes here (``MultiSourceConnector``: the reset to do)."""

    def _stale(self, msg):
        """Whether ``msg`` was read before its stream was (re)opened, so that it is not where the stream resumes
        (called with the lock held; ``MultiSourceConnector`` tracks this)."""
        return False

    def _send(self, msg):
        """``write``; False when ``msg`` is a MESSAGE its stream cannot take now: not open (a reconnect is under way,
        or it was never opened) or stale. The stream's state is checked once a credit is there, under the lock."""
        spends = isinstance(msg, (cwm.Message, cwm.Notify))
        with self._cond:
            while spends and self.credits <= 0 and not self.stopped.is_set():
                self._cond.wait(0.1)
            if self.stopped.is_set():
                raise ConnectorError("the connector has stopped{0}".format(
                    ": {0}".format(self.error) if self.error else ""))
            if isinstance(msg, cwm.Message):
                stream = self._streams.get(msg.stream_id)
                if stream is None or not stream.is_open or self._stale(msg):
                    return False
            if spends:
                self.credits -= 1
            sock = self._sock
        with self._send_lock:
            sock.sendall(cwm.Frame.encode(msg))
        return True

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
            except (OSError, ConnectionLost) as e:
                if self.stopped.is_set():
                    return
                if not self.reconnect_on_loss:
                    self.error = e
                    self.shutdown()
                    return
                sock = self._restart(sock, "")
            except (ConnectorError, ProtocolError, struct.error) as e:
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
                if stream.is_open:
                    self._opening(stream)
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
        """RESTART or a lost connection: reconnect (to ``address`` when given), retrying every second, then
        re-notify the streams. Until a stream's NOTIFY_ACK it is closed: nothing is written to it, and what the
        writer took meanwhile is dropped (the stream's source is reset to the worker's point of reference)."""
        with self._cond:
            self._sock = None
            self.credits = 0
            for stream in list(self._streams.values()):
                self._streams[stream.id] = stream._replace(is_open=False)
            self._cond.notify_all()
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
                self._cond.notify_all()
            self.handle_restarted(streams)
            return fresh
        return sock

    def _pull_loop(self):
        """Pulls ``__next__`` while there are credits, up to PULL_BATCH messages at a time, and sends what it pulled
        with one ``sendall`` (a frame per send cost more than reading the file); with ``delay``, one at a time."""
        while not self.stopped.is_set():
            with self._cond:
                while self.credits <= 0 and not self.stopped.is_set():
                    self._cond.wait(0.1)
                room = self.credits
            if self.stopped.is_set():
                return
            self._before_pull()
            batch, ended = self._pull_batch(1 if self.delay else min(room, PULL_BATCH))
            if batch and not self._send_pulled(batch):
                return
            if ended:
                self.shutdown()
                return
            if not batch:
                time.sleep(0.01)
            elif self.delay:
                time.sleep(self.delay)

    def _pull_batch(self, limit):
        """Up to ``limit`` messages from ``__next__`` (fewer when it has none ready); and whether it ended. Items are
        cwm messages or ``Encoded`` MESSAGE frames (``MultiSourceConnector``'s fast path)."""
        batch = []
        while len(batch) < limit:
            try:
                msg = self.__next__()
            except StopIteration:
                return batch, True
            if msg is None:
                break
            batch.append(msg)
        return batch, False

    def _send_pulled(self, batch):
        """Sends the messages their streams can take now (the rest are dropped: their streams resume at the worker's
        point of reference); False when the connector stopped."""
        try:
            self._send_many(batch)  # a MESSAGE its stream cannot take now is dropped: the stream resumes elsewhere
        except OSError as e:
            if self.stopped.is_set():
                return False
            if not self.reconnect_on_loss:
                self.error = e
                self.shutdown()
                return False
            time.sleep(0.01)  # the reader sees the loss too and reconnects; the credits wait for it
        except (ConnectorError, ProtocolError) as e:
            if not self.stopped.is_set():
                self.error = e
                self.shutdown()
            return False
        return True

    def _send_many(self, messages):
        """``_send`` for pulled MESSAGEs (each spends a credit, which the puller saw) and EOS frames, in order, in one
        ``sendall``."""
        frames = []
        with self._cond:
            for msg in messages:
                while self.credits <= 0 and not self.stopped.is_set():
                    self._cond.wait(0.1)
                if self.stopped.is_set():
                    raise ConnectorError("the connector has stopped")
                stream = self._streams.get(msg.stream_id)
                if stream is None or not stream.is_open or self._stale(msg):
                    continue  # pulled before its stream (re)opened, EOS included: read again from the reset
                if isinstance(msg, cwm.EosMessage):
                    self._streams[msg.stream_id] = stream._replace(is_open=False)
                    frames.append(cwm.Frame.encode(msg))
                    continue
                if isinstance(msg, Encoded):
                    self.credits -= msg.count  # the puller took no more than the credits it saw
                    frames.append(msg.frame)
                else:
                    self.credits -= 1
                    frames.append(cwm.Frame.encode(msg))
            sock = self._sock
        if frames and sock is not None:
            with self._send_lock:
                sock.sendall(b"".join(frames))


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
        self._resets = {}       # stream id -> point of reference to reset its source to before reading it again
        self._turn = 0
        # A source is read and reset by the writer thread, acked (and closed) by the reader thread: one at a time.
        self._source_lock = threading.Lock()

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
        self.end_of_stream(stream_id_of(source.name))

    def end_of_stream(self, stream_id):
        self._ending(stream_id, self.sources.get(stream_id))
        AtLeastOnceSourceConnector.end_of_stream(self, stream_id)

    def _ending(self, stream_id, source, pulled=False):
        """The stream ends once the worker acknowledges its last point of reference: the EOS to send (after what
        the writer pulled before it, so that its messages still go out). ``pulled``: the writer read the source's
        end; if the stream reopened since that batch began (a reset is pending), the end is stale: the stream stays
        open and is read again from the reset (the EOS is dropped with the batch's other stale messages)."""
        with self._cond:
            if pulled and stream_id in self._resets:
                return cwm.EosMessage(stream_id)
            if stream_id in self._open:
                self._open.remove(stream_id)
            if source is not None:
                self._removing[stream_id] = source.point_of_ref()
        return cwm.EosMessage(stream_id)

    def connect(self):
        AtLeastOnceSourceConnector.connect(self)
        for stream_id, source in list(self.sources.items()):
            if stream_id not in self._streams:
                self.notify(stream_id, source.name, source.point_of_ref())

    def _opening(self, stream):
        """The worker opened the stream at its point of reference: the writer thread resets the source there before
        it pulls again (``_before_pull``), and drops what it read before (``_stale``)."""
        if stream.id not in self.sources:
            return
        self._resets[stream.id] = stream.point_of_ref
        if stream.id not in self._open:
            self._open.append(stream.id)

    def stream_opened(self, stream):
        pass  # _opening did the work, under the lock

    def stream_closed(self, stream):
        """The worker refused the stream (another connection has it, or it is stopping): ask again in a second, unless
        the stream is being removed or the connector stops."""
        with self._cond:
            if stream.id in self._open:
                self._open.remove(stream.id)
            self._resets.pop(stream.id, None)
            source = self.sources.get(stream.id)
            retry = source is not None and stream.id not in self._removing and not self.stopped.is_set()
            if not retry:
                self.sources.pop(stream.id, None)
        if retry:
            timer = threading.Timer(RECONNECT_INTERVAL_S, self._notify_again, args=(stream.id,))
            timer.daemon = True
            timer.start()
        elif source is not None:
            with self._source_lock:
                source.close()

    def _notify_again(self, stream_id):
        with self._cond:
            source = self.sources.get(stream_id)
            stream = self._streams.get(stream_id)
        if source is None or stream is None or stream.is_open or self.stopped.is_set():
            return
        try:
            self.notify(stream_id, source.name, stream.point_of_ref)
        except (OSError, ConnectorError):
            pass  # stopped, or the connection is being replaced: the reconnect notifies every stream

    def _stale(self, msg):
        return msg.stream_id in self._resets

    def stream_acked(self, stream):
        source = self.sources.get(stream.id)
        if source is not None:
            with self._source_lock:
                source.wallaroo_acked(stream.point_of_ref)
        eos_at = self._removing.get(stream.id)
        if eos_at is not None and stream.point_of_ref >= eos_at:
            with self._cond:
                del self._removing[stream.id]
                if stream.id in self._open:
                    self._open.remove(stream.id)
                self._resets.pop(stream.id, None)
                source = self.sources.pop(stream.id, None)
            if source is not None:
                with self._source_lock:
                    source.close()
            self.stream_removed(stream)

    def _before_pull(self):
        """Resets the sources of the streams opened since the last batch, before it is pulled (never within a batch:
        what a batch pulled before a reset would pass as fresh)."""
        with self._cond:
            resets, self._resets = self._resets, {}
        for stream_id, point_of_ref in resets.items():
            source = self.sources.get(stream_id)
            if source is not None:
                with self._source_lock:
                    source.reset(point_of_ref)

    def _pull_batch(self, limit):
        """``__next__`` in bulk: up to PULL_RUN records of a stream at a time, round robin, encoded straight into
        MESSAGE frames (a message object per record cost more than reading it)."""
        with self._cond:
            order = list(self._open)
            pending = bool(self.sources)
        if not order:
            return [], not pending
        batch = []
        pulled = 0
        pack = _MESSAGE_HEAD.pack
        while pulled < limit:
            took = pulled
            for i in range(len(order)):
                stream_id = order[(self._turn + i) % len(order)]
                source = self.sources.get(stream_id)
                if source is None:
                    continue
                frames = []
                payload = None
                with self._source_lock:
                    for _ in range(min(PULL_RUN, limit - pulled)):
                        try:
                            payload, por = next(source)
                        except StopIteration:
                            payload = EOS_MARK
                            break
                        if payload is None:
                            break
                        key = source.key or b""  # a source may set it per record (Kafka: the record's key)
                        frames.append(pack(_MESSAGE_BODY_HEAD + len(key) + len(payload), cwm.MESSAGE, stream_id,
                                           por, 0, len(key)))
                        frames.append(key)
                        frames.append(payload)
                if frames:
                    batch.append(Encoded(stream_id, b"".join(frames), len(frames) // 3))
                    pulled += len(frames) // 3
                if payload is EOS_MARK:
                    batch.append(self._ending(stream_id, source, pulled=True))
                    order.remove(stream_id)
                    break
                if pulled >= limit:
                    self._turn = (self._turn + i + 1) % max(len(order), 1)
                    return batch, False
            if pulled == took or not order:
                break
        return batch, False

    def __next__(self):
        with self._cond:
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
                    payload, por = next(source)
            except StopIteration:
                return self._ending(stream_id, source, pulled=True)
            if payload is None:
                continue
            self._turn = (self._turn + i + 1) % len(order)
            return cwm.Message(stream_id, por, 0, source.key, payload)
        return None

    next = __next__
