"""PostgreSQL sink: every message is one row, ``INSERT INTO TABLE (COLUMN) VALUES (value)``, through psycopg2 (Debian's
python3-psycopg2).

Params: ``--NAME-dsn DSN`` (a libpq connection string), ``--NAME-table T`` (``name`` or ``schema.name``) and
``--NAME-column C`` (all required); optional ``--NAME-bytes text|bytea`` (default ``text``). The table must exist.
The decoder's value goes in as a parameter: str as text, numbers as numbers, bytes as UTF-8 text (``text``; bytes
that are not UTF-8 stop the sink with one line) or as bytea (``bytea``); the column's type decides what it accepts.
Rows are committed in one transaction whenever the worker has sent everything queued, and before each commit vote
(at-least-once with a worker that runs two-phase-commit rounds). An INSERT PostgreSQL refuses stops the sink with
one line.
"""

from ._script import choice
from ._sink_script import Sink, SinkFailed, run_sink

PROGRAM = "postgres-sink"


def _first_line(error):
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


class InsertSink(Sink):
    def __init__(self, psycopg2, dsn, table, column, bytes_as):
        from psycopg2 import sql
        self.psycopg2 = psycopg2
        self.table = table
        self.bytes_as = bytes_as
        try:
            self.conn = psycopg2.connect(dsn)
        except psycopg2.Error as e:
            raise SinkFailed("unable to connect to PostgreSQL: {0}".format(_first_line(e)))
        self.statement = sql.SQL("INSERT INTO {0} ({1}) VALUES (%s)").format(
            sql.Identifier(*table.split(".")), sql.Identifier(column))
        self.cursor = self.conn.cursor()
        self.pending = 0

    def write(self, value):
        if isinstance(value, (bytes, bytearray)):
            value = self._from_bytes(bytes(value))
        try:
            self.cursor.execute(self.statement, (value,))
        except self.psycopg2.Error as e:
            raise SinkFailed("INSERT INTO {0} failed: {1}".format(self.table, _first_line(e)))
        self.pending += 1

    def _from_bytes(self, data):
        if self.bytes_as == "bytea":
            return self.psycopg2.Binary(data)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise SinkFailed("a message that is not UTF-8 text for {0} (use --NAME-bytes bytea for binary "
                             "columns): {1!r}".format(self.table, data[:100]))

    def flush(self):
        if not self.pending:
            return
        try:
            self.conn.commit()
        except self.psycopg2.Error as e:
            raise SinkFailed("COMMIT of {0} rows into {1} failed: {2}".format(self.pending, self.table,
                                                                           _first_line(e)))
        self.pending = 0

    def close(self):
        self.conn.close()


def make_sink(settings):
    try:
        import psycopg2
    except ImportError as e:
        raise SinkFailed("needs psycopg2 (Debian: python3-psycopg2): {0}".format(e))
    params = settings.params
    return InsertSink(psycopg2, params.dsn, params.table, params.column,
                      choice(settings, "bytes", "text", ("text", "bytea")))


def main(argv=None):
    run_sink(PROGRAM, make_sink, ["dsn", "table", "column"], ["bytes"], argv)


if __name__ == "__main__":
    main()
