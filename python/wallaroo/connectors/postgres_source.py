"""PostgreSQL source: the notifications of a channel (LISTEN; sent with NOTIFY or pg_notify), on one stream named
``postgres:CHANNEL``, through psycopg2 (Debian's python3-psycopg2).

Params: ``--NAME-dsn DSN`` (required: a libpq connection string, e.g. ``host=127.0.0.1 port=5432 dbname=app
user=app``) and ``--NAME-channel C`` (required).
A message's payload is the notification's payload (UTF-8).
Point of reference: a counter (see _counted_source.py). PostgreSQL does not keep notifications: those sent while
the connector is not listening, or in flight when it stops, are lost; from the connector on, at-least-once.
"""

import select

from ._counted_source import CountedSource
from ._source_script import SourceFailed, run_source

PROGRAM = "postgres-source"


class NotificationSource(CountedSource):
    def __init__(self, psycopg2, dsn, channel):
        CountedSource.__init__(self, "postgres:{0}".format(channel))
        from psycopg2 import sql
        self.psycopg2 = psycopg2
        try:
            self.conn = psycopg2.connect(dsn)
            self.conn.autocommit = True
            with self.conn.cursor() as cursor:
                cursor.execute(sql.SQL("LISTEN {0}").format(sql.Identifier(channel)))
        except psycopg2.Error as e:
            raise SourceFailed("unable to LISTEN {0}: {1}".format(channel, str(e).strip().splitlines()[0]))

    def receive(self):
        if not self.conn.notifies:
            try:
                if select.select([self.conn], [], [], 0)[0]:
                    self.conn.poll()
            except self.psycopg2.Error as e:
                raise SourceFailed("lost the connection: {0}".format(str(e).strip().splitlines()[0]))
        if not self.conn.notifies:
            return None
        return self.conn.notifies.pop(0).payload.encode("utf-8")

    def close(self):
        self.conn.close()


def make_sources(settings):
    try:
        import psycopg2
    except ImportError as e:
        raise SourceFailed("needs psycopg2 (Debian: python3-psycopg2): {0}".format(e))
    return [NotificationSource(psycopg2, settings.params.dsn, settings.params.channel)]


def main(argv=None):
    run_source(PROGRAM, make_sources, ["dsn", "channel"], [], argv)


if __name__ == "__main__":
    main()
