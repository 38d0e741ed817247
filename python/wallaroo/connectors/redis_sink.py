"""Redis hash sink: every message sets one field of one Redis hash (HSET KEY FIELD VALUE), through redis-py
(Debian's python3-redis).

Params: ``--NAME-key K`` (required: the hash); optional ``--NAME-separator S`` (default ``=``), ``--NAME-host H``
(default ``127.0.0.1``), ``--NAME-port P`` (default 6379), ``--NAME-db N`` (default 0), ``--NAME-password PW``.
How a message maps to field and value: the decoder's value is either a pair ``(field, value)`` (each bytes, str or
a number), or bytes/str ``FIELD<separator>VALUE`` split at the first separator (``"apples=3"`` sets field
``apples`` to ``3``). A message with no separator stops the sink with one line naming it. The HSETs of what the
worker sent go to Redis in one pipeline whenever it has sent everything queued, and before each commit vote
(at-least-once with a worker that runs two-phase-commit rounds; durability is Redis's own persistence setting).
"""

from ._script import number
from ._sink_script import Sink, SinkFailed, as_bytes, run_sink

PROGRAM = "redis-sink"


def field_and_value(value, separator):
    """``(field, value)`` of a decoded message (see the module docstring)."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value[0], value[1]
    data = as_bytes(value, PROGRAM)
    field, found, rest = data.partition(separator)
    if not found:
        raise SinkFailed("a message without the separator {0!r}: {1!r}".format(separator.decode("utf-8"),
                                                                                data[:100]))
    return field, rest


class HashSink(Sink):
    def __init__(self, redis, client, key, separator):
        self.redis = redis
        self.client = client
        self.key = key
        self.separator = separator.encode("utf-8")
        self.pipeline = client.pipeline(transaction=False)
        self.pending = 0

    def write(self, value):
        field, data = field_and_value(value, self.separator)
        self.pipeline.hset(self.key, field, data)
        self.pending += 1

    def flush(self):
        if not self.pending:
            return
        try:
            self.pipeline.execute()
        except self.redis.exceptions.RedisError as e:
            raise SinkFailed("Redis refused HSET {0}: {1}".format(self.key, e))
        self.pending = 0

    def close(self):
        self.client.close()


def make_sink(settings):
    try:
        import redis
    except ImportError as e:
        raise SinkFailed("needs redis-py (Debian: python3-redis): {0}".format(e))
    params = settings.params
    client = redis.Redis(host=params.host or "127.0.0.1", port=number(settings, "port", 6379),
                         db=number(settings, "db", 0), password=params.password)
    return HashSink(redis, client, params.key, params.separator or "=")


def main(argv=None):
    run_sink(PROGRAM, make_sink, ["key"], ["separator", "host", "port", "db", "password"], argv)


if __name__ == "__main__":
    main()
