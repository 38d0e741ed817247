"""Sources a ``MultiSourceConnector`` reads (spec §1.4): ``BaseSource`` and two file readers.

A source has a ``name`` (its stream's name; the stream id is derived from it), a ``key`` (bytes or None, sent
with every message), and:
* ``__next__()`` → ``(payload bytes, point_of_ref)``, ``(None, point_of_ref)`` when nothing is ready yet, or
  ``StopIteration`` at its end;
* ``point_of_ref()``: where it is (for the file readers: the file offset after the last record read);
* ``reset(point_of_ref)``: resume just after ``point_of_ref``; ``BaseSource.START`` (2**64 - 1, what the worker
  answers for a stream it has no record of) means from the beginning;
* ``wallaroo_acked(point_of_ref)``: everything up to there is safe in Wallaroo (default: nothing to do).
"""

import struct
import time

U64_MAX = 2 ** 64 - 1


class BaseSource(object):
    START = U64_MAX

    def __init__(self, name, key=None):
        self.name = name
        self.key = key

    def __str__(self):
        return "{0}({1!r})".format(type(self).__name__, self.name)

    def __iter__(self):
        return self

    def __next__(self):
        raise NotImplementedError("{0} must define __next__".format(type(self).__name__))

    next = __next__

    def point_of_ref(self):
        raise NotImplementedError("{0} must define point_of_ref".format(type(self).__name__))

    def reset(self, pos=U64_MAX):
        raise NotImplementedError("{0} must define reset".format(type(self).__name__))

    def wallaroo_acked(self, point_of_ref):
        pass

    def close(self):
        pass


_LENGTH = struct.Struct(">I")
_BLOCK = 64 * 1024


class _FileRecords(BaseSource):
    """Records of a file, read one at a time: framed (``u32 BE length | payload``) or text lines. Framed records
    are cut from 64 KiB blocks (two reads and a tell per record cost more than the rest of a connector's work)."""

    def __init__(self, filename, is_framed=True, is_text_lines=False, key=None):
        BaseSource.__init__(self, filename, key)
        self.filename = filename
        self.is_framed = is_framed
        self.is_text_lines = is_text_lines
        self.file = open(filename, "rb")
        self._buf = b""  # framed: bytes read from the file and not returned yet start at _buf[_at]
        self._at = 0
        self._base = 0   # the file offset of _buf[0]

    def point_of_ref(self):
        if self.is_framed:
            return self._base + self._at
        return self.file.tell()

    def reset(self, pos=U64_MAX):
        offset = 0 if pos == U64_MAX else pos
        self.file.seek(offset)
        self._buf, self._at, self._base = b"", 0, offset

    def _read_framed(self):
        while True:
            buf, at = self._buf, self._at
            if len(buf) - at >= 4:
                end = at + 4 + _LENGTH.unpack_from(buf, at)[0]
                if end <= len(buf):
                    self._at = end
                    return buf[at + 4:end]
            more = self.file.read(_BLOCK)
            if not more:
                raise StopIteration  # the end, or a record cut short by it
            self._base += at
            self._buf, self._at = buf[at:] + more, 0

    def _read_record(self):
        if self.is_framed:
            return self._read_framed()
        line = self.file.readline()
        if not line:
            raise StopIteration
        return line.rstrip(b"\n") if self.is_text_lines else line

    def __next__(self):
        payload = self._read_record()
        return payload, self.point_of_ref()

    next = __next__

    def close(self):
        self.file.close()


class FramedFileReader(_FileRecords):
    """A file of ``u32 BE length | payload`` records; the point of reference is the offset after a record."""

    def __init__(self, filename, key=None):
        _FileRecords.__init__(self, filename, True, False, key)


class ThrottledFileReader(_FileRecords):
    """Framed records or lines (``is_text_lines`` drops the newline), at most ``limit_rate`` per second (0: no
    limit); ``(None, point_of_ref)`` when the next record is not due yet."""

    def __init__(self, filename, limit_rate=0, is_framed=True, is_text_lines=False, key=None):
        _FileRecords.__init__(self, filename, is_framed, is_text_lines, key)
        self.limit_rate = limit_rate
        self._next_due = time.monotonic()

    def __next__(self):
        if self.limit_rate:
            now = time.monotonic()
            if now < self._next_due:
                return None, self.point_of_ref()
            self._next_due = max(self._next_due, now - 1.0) + 1.0 / self.limit_rate
        return _FileRecords.__next__(self)

    next = __next__
