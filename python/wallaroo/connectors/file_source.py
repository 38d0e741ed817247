"""File source: the records of one or more files, one stream per file (the stream's name is the file's path).

Params: ``--NAME-path P[,P...]`` (required); optional ``--NAME-format framed|lines`` (default ``framed``:
``u32 BE length | payload`` records; ``lines``: one message per line, the newline dropped), ``--NAME-limit-rate R``
(at most R messages per second per file; default no limit), ``--NAME-key K`` (sent with every message).
Point of reference: the byte offset just after a record, so a stream resumes exactly after the last record the worker
acknowledged. The script ends once every file has been sent and each end of stream acknowledged.
"""

import os

from ..experimental.connector_errors import ConnectorError
from ..experimental.sources import ThrottledFileReader
from ._script import choice, number
from ._source_script import run_source

PROGRAM = "file-source"


def make_sources(settings):
    framed = choice(settings, "format", "framed", ("framed", "lines")) == "framed"
    rate = number(settings, "limit-rate", 0, float)
    key = settings.params.key.encode("utf-8") if settings.params.key else None
    paths = [p for p in settings.params.path.split(",") if p]
    for path in paths:
        if not os.path.isfile(path):
            raise ConnectorError("{0}: no such file: {1}".format(settings.flag("path"), path))
    return [ThrottledFileReader(path, rate, is_framed=framed, is_text_lines=not framed, key=key) for path in paths]


def main(argv=None):
    run_source(PROGRAM, make_sources, ["path"], ["format", "limit-rate", "key"], argv)


if __name__ == "__main__":
    main()
