"""File sink: appends every message to a file.

Params: ``--NAME-path P`` (required); optional ``--NAME-format raw|framed|lines`` (default ``raw``: the decoded bytes
as they are; ``framed``: each as ``u32 BE length | bytes``; ``lines``: each followed by a newline).
The decoder's value must be bytes or str (UTF-8). Written data is flushed to the OS whenever the worker has nothing
more queued, and fsynced on each two-phase-commit PHASE1 before the sink votes commit (at-least-once with a worker
that runs those rounds; see _sink_script.py).
"""

import os
import struct

from ._script import choice
from ._sink_script import Sink, SinkFailed, as_bytes, run_sink

PROGRAM = "file-sink"


class FileSink(Sink):
    def __init__(self, path, fmt):
        try:
            self.file = open(path, "ab")
        except OSError as e:
            raise SinkFailed("unable to open {0} for appending: {1}".format(path, e.strerror))
        self.fmt = fmt

    def write(self, value):
        data = as_bytes(value, PROGRAM)
        if self.fmt == "framed":
            data = struct.pack(">I", len(data)) + data
        elif self.fmt == "lines":
            data += b"\n"
        self.file.write(data)

    def flush(self):
        self.file.flush()

    def commit(self):
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self):
        self.file.close()


def make_sink(settings):
    return FileSink(settings.params.path, choice(settings, "format", "raw", ("raw", "framed", "lines")))


def main(argv=None):
    run_sink(PROGRAM, make_sink, ["path"], ["format"], argv)


if __name__ == "__main__":
    main()
