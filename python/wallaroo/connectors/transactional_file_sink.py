"""The reference two-phase-commit connector sink (docs/connectors-sink.md): the sink end of Wallaroo's connector sink
protocol (spec §3.3) that keeps each stream's output in a file and commits it with the worker's checkpoints.

    python3 -m wallaroo.connectors.transactional_file_sink --port P --cookie C --output-dir D [--host H]
    python3 -m wallaroo.connectors.transactional_file_sink --print-committed D [STREAM]

Wallaroo's connector flags work too: ``--application-module M --connector NAME --NAME-port P --NAME-cookie C
--NAME-output-dir D``.

It serves any number of connections (one per worker). Per stream name, D holds ``<stream>.out`` (the output bytes)
and ``<stream>.txnlog`` (one JSON line per decision, fsynced):

* MESSAGE on stream 1 at the offset where the output ends: appended. Any other offset: ERROR and the connection
  closes (one line on stderr).
* PHASE1 ``txn`` for [start, end): with start = the voted end (below) and end = the output's end, the output is
  fsynced, ``{"phase1": txn, "start": start, "end": end}`` logged and fsynced, and the vote is commit; otherwise the
  vote is abort and the bytes past the voted end are dropped.
* PHASE2 commit: ``{"commit": txn}`` logged. PHASE2 abort: the output is truncated back to the txn's start and
  ``{"abort": txn}`` logged.
* LIST_UNCOMMITTED: every txn (of any stream) with a PHASE1 and no PHASE2.

The voted end of a stream is the end of its last txn that is prepared or committed (0 when none): what the sink voted
to keep. Bytes past it were never voted on. A session that sent LIST_UNCOMMITTED is transactional (a worker with
checkpoints): when it opens a stream (NOTIFY), the stream is marked transactional in its log, its bytes past the
voted end are dropped, and NOTIFY_ACK's point of reference is the voted end, where the worker continues. At start,
the transactional streams are cut back the same way. A session without LIST_UNCOMMITTED (a worker without
checkpoints: at least once) gets the output's end.

The committed output of a transactional stream ends where its last committed txn ends; a stream that was never
transactional has all of its bytes committed (``--print-committed``, ``committed_output``).

Fault-test flags: ``--abort-checkpoint N`` votes abort on the PHASE1 of checkpoint N (once); ``--no-reply-checkpoint
N`` logs the PHASE1 of checkpoint N but never answers it; ``--freeze-after-vote N`` stops reading the connection once
it voted on checkpoint N (its PHASE2 is never seen) until the worker closes it.
"""

import argparse
import asyncio
import hmac
import json
import os
import re
import signal
import struct
import sys

from wallaroo.experimental import connector_two_phase as tpc
from wallaroo.experimental import connector_wire_messages as cwm
from wallaroo.experimental.connector_errors import ProtocolError

PROG = "transactional_file_sink"
VERSION = "v0.0.1"
MAX_FRAME_BEFORE_HELLO = 4096
MAX_FRAME = 16 * 1024 * 1024
CREDITS = 1000  # unused by sinks (TCP backpressure), but OK carries a number
OUTPUT_STREAM, CONTROL_STREAM = 1, 0
CHECKPOINT_OF = re.compile(r":c_id=(\d+)$")
READ_BYTES = 256 * 1024
FRAME_HEAD = struct.Struct(">I")
MESSAGE_HEAD = struct.Struct(">QQqH")  # stream id, message id, event time, key length


def say(text):
    sys.stderr.write("{0}: {1}\n".format(PROG, text))
    sys.stderr.flush()


def file_stem(stream_name):
    """A stream name as a file name: '/' and NUL cannot be in one."""
    return stream_name.replace("/", "_").replace("\0", "_")


def checkpoint_of(txn_id):
    match = CHECKPOINT_OF.search(txn_id)
    return int(match.group(1)) if match else None


class StreamStore(object):
    """One stream's output file and transaction log, and the state read back from the log."""

    def __init__(self, directory, name):
        self.name = name
        stem = os.path.join(directory, file_stem(name))
        self.out_path, self.log_path = stem + ".out", stem + ".txnlog"
        self.txns = {}  # txn id -> {"start", "end", "state": "prepared" | "committed" | "aborted"}
        self.transactional = False
        self._read_log()
        self.out = open(self.out_path, "ab+", buffering=0)
        self.end = os.fstat(self.out.fileno()).st_size  # the output's end, appends not yet written included
        self.pending = []  # appended records not written yet (written once per batch of frames: flush_pending)
        self.log = open(self.log_path, "a")
        if self.transactional:
            self.drop_unvoted()

    def _read_log(self):
        if not os.path.exists(self.log_path):
            return
        with open(self.log_path) as log:
            for line in log:
                try:
                    entry = json.loads(line)
                except ValueError:
                    break  # a line torn by a crash: it was never fsynced, so never acted on
                self._apply(entry)

    def _apply(self, entry):
        if "transactional" in entry:
            self.transactional = True
        elif "phase1" in entry:
            self.txns[entry["phase1"]] = {"start": entry["start"], "end": entry["end"], "state": "prepared"}
        elif "commit" in entry and entry["commit"] in self.txns:
            self.txns[entry["commit"]]["state"] = "committed"
        elif "abort" in entry and entry["abort"] in self.txns:
            self.txns[entry["abort"]]["state"] = "aborted"

    def _record(self, entry):
        self.log.write(json.dumps(entry, sort_keys=True) + "\n")
        self.log.flush()
        os.fsync(self.log.fileno())
        self._apply(entry)

    def size(self):
        return self.end

    def flush_pending(self):
        if self.pending:
            self.out.write(b"".join(self.pending))
            del self.pending[:]

    def voted_end(self):
        ends = [t["end"] for t in self.txns.values() if t["state"] != "aborted"]
        return max(ends) if ends else 0

    def committed_end(self):
        ends = [t["end"] for t in self.txns.values() if t["state"] == "committed"]
        return max(ends) if ends else 0

    def truncate(self, offset):
        self.flush_pending()
        if self.size() > offset:
            self.out.truncate(offset)
            os.fsync(self.out.fileno())
            self.end = offset

    def drop_unvoted(self):
        self.truncate(self.voted_end())

    def open_transactional(self):
        """A transactional session opens the stream: returns where it continues (the voted end)."""
        if not self.transactional:
            self._record({"transactional": True})
        self.drop_unvoted()
        return self.size()

    def append(self, offset, payload):
        """Appends a record at `offset`; returns the offset the sink expected when it is not the output's end."""
        if offset != self.end:
            return self.end
        self.pending.append(payload)
        self.end += len(payload)
        return None

    def prepare(self, txn_id, start, end):
        """PHASE1: True (commit) once the bytes and the txn are durable; False (abort) when the range is not the
        one the sink holds unvoted."""
        if start != self.voted_end() or end != self.size() or start > end:
            self.drop_unvoted()
            return False
        self.flush_pending()
        os.fsync(self.out.fileno())
        self._record({"phase1": txn_id, "start": start, "end": end})
        return True

    def decide(self, txn_id, commit):
        txn = self.txns.get(txn_id)
        if txn is None or txn["state"] != "prepared":
            return  # unknown, or decided already: PHASE2 is idempotent
        if commit:
            self._record({"commit": txn_id})
        else:
            self.truncate(txn["start"])
            self._record({"abort": txn_id})

    def uncommitted(self):
        return sorted(t for t, txn in self.txns.items() if txn["state"] == "prepared")


def committed_output(directory, stream_name):
    """The committed bytes of a stream (see the module's docstring)."""
    stem = os.path.join(directory, file_stem(stream_name))
    store = StreamStore.__new__(StreamStore)
    store.out_path, store.log_path = stem + ".out", stem + ".txnlog"
    store.txns, store.transactional = {}, False
    store._read_log()
    if not os.path.exists(store.out_path):
        return b""
    with open(store.out_path, "rb") as out:
        data = out.read()
    return data[:store.committed_end()] if store.transactional else data


def stream_names(directory):
    return sorted(n[:-4] for n in os.listdir(directory) if n.endswith(".out"))


class FileSink(object):
    """The streams of one output directory, shared by every connection."""

    def __init__(self, directory, cookie, abort_checkpoint=None, no_reply_checkpoint=None, freeze_after_vote=None):
        self.directory, self.cookie = directory, cookie
        self.abort_checkpoint, self.no_reply_checkpoint = abort_checkpoint, no_reply_checkpoint
        self.freeze_after_vote = freeze_after_vote
        self.stores = {}
        self.owners = {}  # stream name -> the Session that has it open
        self.reported = set()
        for name in stream_names(directory):
            self.store(name)

    def report_once(self, peer, text):
        """One line per refusal and peer host: a worker that retries is not logged again."""
        host = peer.rsplit(":", 1)[0]
        if (host, text) not in self.reported:
            self.reported.add((host, text))
            say("{0}: {1}".format(peer, text))

    def store(self, name):
        if name not in self.stores:
            self.stores[name] = StreamStore(self.directory, name)
        return self.stores[name]

    def uncommitted(self):
        return [t for store in self.stores.values() for t in store.uncommitted()]


class Refused(Exception):
    """What the sink tells a worker in ERROR before it closes the connection."""


class Session(object):
    """One worker's connection."""

    def __init__(self, sink, reader, writer):
        self.sink, self.reader, self.writer = sink, reader, writer
        self.peer = "{0}:{1}".format(*writer.get_extra_info("peername")[:2])
        self.hello = None
        self.transactional = False
        self.store = None
        self.frozen = False

    async def run(self):
        """Reads what the worker sent in chunks and handles every whole frame in it; the output records of a chunk
        are written with one write (StreamStore.flush_pending), and answers go out once per chunk."""
        buffer = bytearray()
        try:
            while not self.frozen and not self.replaced():
                chunk = await self.reader.read(READ_BYTES)
                if not chunk:
                    return
                buffer += chunk
                used = self.handle_frames(buffer)
                del buffer[:used]
                if self.store is not None:
                    self.store.flush_pending()
                await self.writer.drain()
            await self.reader.read()  # frozen: until the worker closes, its PHASE2 is never seen
        except (ProtocolError, Refused) as error:
            self.sink.report_once(self.peer, str(error))
            self.send(cwm.Error(str(error)))
        except ConnectionError:
            pass
        finally:
            if self.store is not None:
                self.store.flush_pending()
            if self.store is not None and self.sink.owners.get(self.store.name) is self:
                del self.sink.owners[self.store.name]
            self.writer.close()

    def handle_frames(self, buffer):
        """Handles the whole frames at the start of ``buffer``; returns how many bytes they took. A MESSAGE on the
        output stream is read in place (the hot path); every other frame is decoded."""
        at = 0
        while len(buffer) - at >= 4 and not self.frozen:
            if self.replaced():
                return len(buffer)  # read before the take-over: its records and PHASE1 are not this stream's now
            (length,) = FRAME_HEAD.unpack_from(buffer, at)
            limit = MAX_FRAME if self.hello else MAX_FRAME_BEFORE_HELLO
            if length > limit:
                raise ProtocolError("a frame of {0} bytes is more than the {1} allowed{2}".format(
                    length, limit, "" if self.hello else " before HELLO"))
            end = at + 4 + length
            if end > len(buffer):
                break
            if self.store is not None and length >= 1 + MESSAGE_HEAD.size and buffer[at + 4] == cwm.MESSAGE:
                stream_id, message_id, _, key_length = MESSAGE_HEAD.unpack_from(buffer, at + 5)
                if stream_id == OUTPUT_STREAM and 1 + MESSAGE_HEAD.size + key_length <= length:
                    self.output(message_id, bytes(buffer[at + 5 + MESSAGE_HEAD.size + key_length:end]))
                    at = end
                    continue
            self.handle(cwm.Frame.decode(bytes(buffer[at + 4:end])))
            at = end
        return at

    def replaced(self):
        """True once another connection opened this session's stream (a worker's new session)."""
        return self.store is not None and self.sink.owners.get(self.store.name) is not self

    def output(self, message_id, payload):
        expected = self.store.append(message_id, payload)
        if expected is not None:
            self.refuse("MESSAGE at byte {0} of stream '{1}', whose output ends at byte {2}".format(
                message_id, self.store.name, expected))

    def send(self, msg):
        self.writer.write(cwm.Frame.encode(msg))

    def send_control(self, msg):
        self.send(cwm.Message(CONTROL_STREAM, 0, 0, None, tpc.encode(msg)))

    def refuse(self, text):
        """ERROR to the worker, one line here, and the connection closes."""
        raise Refused(text)

    def handle(self, msg):
        if self.hello is None:
            if not isinstance(msg, cwm.Hello):
                self.refuse("expected HELLO, got {0}".format(type(msg).__name__))
            if msg.version != VERSION:
                self.refuse("Unknown protocol version {0!r} (this sink speaks {1})".format(msg.version, VERSION))
            if not hmac.compare_digest(msg.cookie.encode("utf-8"), self.sink.cookie.encode("utf-8")):
                self.refuse("Bad cookie")
            self.hello = msg
            self.send(cwm.Ok(CREDITS))
        elif isinstance(msg, cwm.Notify):
            self.open_stream(msg)
        elif isinstance(msg, cwm.Message) and msg.stream_id == OUTPUT_STREAM and self.store is not None:
            self.output(msg.message_id, msg.message or b"")
        elif isinstance(msg, cwm.Message) and msg.stream_id == CONTROL_STREAM:
            self.handle_control(tpc.decode(msg.message or b""))
        elif isinstance(msg, cwm.EosMessage):
            pass
        else:
            self.refuse("unexpected {0}".format(msg))

    def open_stream(self, notify):
        if notify.stream_id != OUTPUT_STREAM:
            self.refuse("stream {0}: a worker's output is stream {1}".format(notify.stream_id, OUTPUT_STREAM))
        store = self.sink.store(notify.stream_name)
        previous = self.sink.owners.get(store.name)
        if previous is not None and previous is not self:
            previous.writer.close()  # a restarted worker takes its stream over from a connection not closed yet
        self.sink.owners[store.name] = self
        self.store = store
        por = store.open_transactional() if self.transactional else store.size()
        self.send(cwm.NotifyAck(True, OUTPUT_STREAM, por))

    def handle_control(self, msg):
        if isinstance(msg, tpc.ListUncommitted):
            self.transactional = True
            self.send_control(tpc.ReplyUncommitted(msg.rtag, self.sink.uncommitted()))
        elif isinstance(msg, tpc.Phase1):
            self.phase1(msg)
        elif isinstance(msg, tpc.Phase2):
            for store in self.sink.stores.values():
                if msg.txn_id in store.txns:
                    store.decide(msg.txn_id, msg.commit)
        elif isinstance(msg, tpc.WorkersLeft):
            pass
        else:
            self.refuse("unexpected {0}".format(msg))

    def phase1(self, msg):
        if self.store is None or [w[0] for w in msg.where] != [OUTPUT_STREAM]:
            self.refuse("PHASE1 {0}: its where-list {1} is not one range of an open stream 1".format(
                msg.txn_id, msg.where))
        _, start, end = msg.where[0]
        checkpoint = checkpoint_of(msg.txn_id)
        if checkpoint is not None and checkpoint == self.sink.abort_checkpoint:
            self.sink.abort_checkpoint = None
            self.store.drop_unvoted()
            say("voting abort on {0} (--abort-checkpoint)".format(msg.txn_id))
            self.send_control(tpc.Phase1Reply(msg.txn_id, False))
            return
        vote = self.store.prepare(msg.txn_id, start, end)
        if not vote:
            say("voting abort on {0}: bytes {1} to {2} are not what it holds unvoted".format(msg.txn_id, start, end))
        if checkpoint is not None and checkpoint == self.sink.no_reply_checkpoint:
            self.sink.no_reply_checkpoint = None
            say("not answering PHASE1 {0} (--no-reply-checkpoint)".format(msg.txn_id))
            return
        self.send_control(tpc.Phase1Reply(msg.txn_id, vote))
        if checkpoint is not None and checkpoint == self.sink.freeze_after_vote:
            self.sink.freeze_after_vote = None
            self.frozen = True
            say("voted on {0}; reading nothing more from {1} (--freeze-after-vote)".format(msg.txn_id, self.peer))


async def serve(args):
    os.makedirs(args.output_dir, exist_ok=True)
    sink = FileSink(args.output_dir, args.cookie, args.abort_checkpoint, args.no_reply_checkpoint,
                    args.freeze_after_vote)

    async def on_connection(reader, writer):
        await Session(sink, reader, writer).run()

    server = await asyncio.start_server(on_connection, args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    say("listening on {0}:{1}, output in {2}".format(args.host, port, args.output_dir))
    stopped = asyncio.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signal_number, stopped.set)
    async with server:
        await stopped.wait()


def connector_style(argv):
    """``--application-module M --connector NAME --NAME-port P ...`` as plain flags."""
    from wallaroo.experimental.connector_args import parse_connector_args
    params = parse_connector_args(argv, ["port", "cookie", "output-dir"], ["host"])
    plain = ["--port", params.port, "--cookie", params.cookie, "--output-dir", params.output_dir]
    return plain + (["--host", params.host] if params.host else [])


def parse(argv):
    if "--connector" in argv:
        argv = connector_style(argv)
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--print-committed", metavar="DIR",
                        help="print the committed output of the streams in DIR (or of STREAM) and exit")
    parser.add_argument("stream", nargs="?", help="with --print-committed: one stream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--cookie")
    parser.add_argument("--output-dir")
    parser.add_argument("--abort-checkpoint", type=int)
    parser.add_argument("--no-reply-checkpoint", type=int)
    parser.add_argument("--freeze-after-vote", type=int)
    args = parser.parse_args(argv)
    if not args.print_committed and (args.port is None or args.cookie is None or not args.output_dir):
        parser.error("--port, --cookie and --output-dir are required (or --print-committed DIR)")
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.print_committed:
        names = [args.stream] if args.stream else stream_names(args.print_committed)
        for name in names:
            sys.stdout.buffer.write(committed_output(args.print_committed, name))
        sys.stdout.flush()
        return 0
    try:
        asyncio.run(serve(args))
    except OSError as error:
        say("cannot listen on {0}:{1}: {2}".format(args.host, args.port, error.strerror or error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
