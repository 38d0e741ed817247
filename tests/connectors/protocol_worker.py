"""Real protocol peers for the shipped connectors (the worker's side of spec §3.3, in Python, on real sockets).

* `ProtocolWorker`: a worker's connector source. Accepts connections one after another; HELLO with the right cookie
  gets OK(credits), a wrong one ERROR "Bad cookie"; NOTIFY gets NOTIFY_ACK(success, stream, the point of reference
  set with `resume_at`, else U64 max; success unless made with accept_streams=False); MESSAGEs are recorded
  (`messages`: (stream id, message id, key, payload)), and credits are refilled with an ACK(no points of reference) whenever they fall to `refill`; EOS is acked with the
  stream's last message id. `ack(stream_id, por)` sends a point of reference, `ack_last(stream_id)` the last
  message id seen, `restart()` sends RESTART and closes the connection.
* `SinkPeer`: a worker's connector sink: connects, HELLO/OK, NOTIFY/NOTIFY_ACK, then `send(payload)` MESSAGEs on
  stream 1 and `phase1(txn_id)` / `list_uncommitted(rtag)` on stream 0, returning the connector's answers.
"""
import socket
import struct
import threading
import time

from wallaroo.experimental import cwm

U64_MAX = 2 ** 64 - 1


def read_frame(sock):
    header = _exactly(sock, 4)
    if header is None:
        return None
    body = _exactly(sock, struct.unpack(">I", header)[0])
    return None if body is None else cwm.Frame.decode(body)


def _exactly(sock, n):
    data = bytearray()
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data.extend(chunk)
    return bytes(data)


class ProtocolWorker(object):
    def __init__(self, cookie="cookie", credits=100, refill=10, accept_streams=True, port=0):
        self.cookie = cookie
        self.accept_streams = accept_streams
        self.max_credits = credits
        self.refill = refill
        self.frames = []        # every frame received, in order, over every connection
        self.messages = []      # (stream_id, message_id, key, payload)
        self.notified = []      # (stream_id, stream_name, point_of_ref) of each NOTIFY
        self.hellos = 0
        self.resume = {}        # stream id -> point of reference for NOTIFY_ACK
        self.last_id = {}
        self.conn = None
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def resume_at(self, stream_id, point_of_ref):
        self.resume[stream_id] = point_of_ref

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._cond:
                self.conn = conn
            self._serve(conn)

    def _send(self, conn, msg):
        with self._send_lock:
            conn.sendall(cwm.Frame.encode(msg))

    def _serve(self, conn):
        credits = self.max_credits
        while True:
            msg = read_frame(conn)
            if msg is None:
                conn.close()
                return
            with self._cond:
                self.frames.append(msg)
                self._cond.notify_all()
            if isinstance(msg, cwm.Hello):
                if msg.cookie != self.cookie:
                    self._send(conn, cwm.Error("Bad cookie"))
                    conn.close()
                    return
                with self._cond:
                    self.hellos += 1
                self._send(conn, cwm.Ok(self.max_credits))
                continue
            credits -= 1
            if isinstance(msg, cwm.Notify):
                with self._cond:
                    self.notified.append((msg.stream_id, msg.stream_name, msg.point_of_ref))
                self._send(conn, cwm.NotifyAck(self.accept_streams, msg.stream_id,
                                               self.resume.get(msg.stream_id, U64_MAX)))
            elif isinstance(msg, cwm.Message):
                with self._cond:
                    self.messages.append((msg.stream_id, msg.message_id, msg.key, msg.message))
                    self.last_id[msg.stream_id] = msg.message_id
                    self._cond.notify_all()
            elif isinstance(msg, cwm.EosMessage):
                self._send(conn, cwm.Ack(1, [(msg.stream_id, self.last_id.get(msg.stream_id, U64_MAX))]))
                credits += 1
            if credits <= self.refill:
                self._send(conn, cwm.Ack(self.max_credits - credits, []))
                credits = self.max_credits

    def wait_for(self, predicate, timeout=10.0):
        """Wait until `predicate(self)` holds; its last value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self)
                remaining = deadline - time.monotonic()
                if value or remaining <= 0:
                    return value
                self._cond.wait(min(remaining, 0.05))

    def wait_for_messages(self, count, timeout=10.0):
        self.wait_for(lambda w: len(w.messages) >= count, timeout)
        with self._cond:
            return list(self.messages)

    def payloads(self):
        with self._cond:
            return [m[3] for m in self.messages]

    def ack(self, stream_id, point_of_ref, credits=0):
        self._send(self.conn, cwm.Ack(credits, [(stream_id, point_of_ref)]))

    def ack_last(self, stream_id):
        with self._cond:
            last = self.last_id[stream_id]
        self.ack(stream_id, last)
        return last

    def restart(self, address=""):
        """RESTART, then close the connection (the connector reconnects and notifies again)."""
        conn = self.conn
        self._send(conn, cwm.Restart(address))
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the connector, told to restart, may have closed it first (ENOTCONN)

    def close(self):
        self.listener.close()
        if self.conn is not None:
            try:
                self.conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.conn.close()


class SinkPeer(object):
    """A worker's connector sink talking to a sink connector at 127.0.0.1:port."""

    def __init__(self, port, cookie="cookie", timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.offset = 0
        self.send_frame(cwm.Hello("v0.0.1", cookie, "app", "worker1"))
        self.hello_reply = read_frame(self.sock)

    def open_stream(self, name="app-w-worker1-id-1", point_of_ref=0):
        self.send_frame(cwm.Notify(1, name, point_of_ref))
        return read_frame(self.sock)

    def send_frame(self, msg):
        self.sock.sendall(cwm.Frame.encode(msg))

    def send(self, payload):
        self.send_frame(cwm.Message(1, self.offset, 0, None, payload))
        self.offset += len(payload)

    def _control(self, payload):
        self.send_frame(cwm.Message(0, 0, 0, None, payload))
        reply = read_frame(self.sock)
        assert isinstance(reply, cwm.Message) and reply.stream_id == 0, reply
        return reply.message

    def phase1(self, txn_id):
        """PHASE1 for the bytes sent since the last one: True when the connector votes commit."""
        body = txn_id.encode()
        reply = self._control(struct.pack(">BH", 203, len(body)) + body + struct.pack(">IQQQ", 1, 1, 0, self.offset))
        assert reply == struct.pack(">BH", 204, len(body)) + body + reply[-1:], reply
        return reply[-1:] == b"\x01"

    def list_uncommitted(self, rtag):
        reply = self._control(struct.pack(">BQ", 201, rtag))
        return reply

    def read(self):
        return read_frame(self.sock)

    def close(self):
        self.sock.close()
