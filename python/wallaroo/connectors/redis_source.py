"""Redis subscriber source: the messages published on Redis channels (SUBSCRIBE) or channel patterns (PSUBSCRIBE),
on one stream named ``redis:HOST:PORT:<channels or patterns>``, through redis-py (Debian's python3-redis).

Params: ``--NAME-channel C[,C...]`` or ``--NAME-pattern P[,P...]`` (one of them is required); optional
``--NAME-host H`` (default ``127.0.0.1``), ``--NAME-port P`` (default 6379), ``--NAME-password PW``.
A message's payload is the published data, its key the channel it was published on.
Point of reference: a counter (see _counted_source.py). Redis pub/sub cannot replay: what is published while the
connector is not subscribed, or is in flight when it stops, is lost; from the connector on, at-least-once.
"""

from ..experimental.connector_errors import ConnectorError
from ._counted_source import CountedSource
from ._script import number
from ._source_script import SourceFailed, run_source

PROGRAM = "redis-source"


class SubscriberSource(CountedSource):
    def __init__(self, redis, client, channels, patterns, name):
        CountedSource.__init__(self, name)
        self.redis = redis
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            if channels:
                self.pubsub.subscribe(*channels)
            if patterns:
                self.pubsub.psubscribe(*patterns)
        except redis.exceptions.RedisError as e:
            raise SourceFailed("unable to subscribe: {0}".format(e))

    def receive(self):
        try:
            message = self.pubsub.get_message(timeout=0)
        except self.redis.exceptions.RedisError as e:
            raise SourceFailed("lost the subscription: {0}".format(e))
        if message is None or message["type"] not in ("message", "pmessage"):
            return None
        self.key = message["channel"]
        return message["data"]

    def close(self):
        self.pubsub.close()


def make_sources(settings):
    params = settings.params
    channels = [c for c in (params.channel or "").split(",") if c]
    patterns = [p for p in (params.pattern or "").split(",") if p]
    if not channels and not patterns:
        raise ConnectorError("needs {0} or {1}".format(settings.flag("channel"), settings.flag("pattern")))
    try:
        import redis
    except ImportError as e:
        raise SourceFailed("needs redis-py (Debian: python3-redis): {0}".format(e))
    host, port = params.host or "127.0.0.1", number(settings, "port", 6379)
    client = redis.Redis(host=host, port=port, password=params.password)
    name = "redis:{0}:{1}:{2}".format(host, port, ",".join(channels + patterns))
    return [SubscriberSource(redis, client, channels, patterns, name)]


def main(argv=None):
    run_source(PROGRAM, make_sources, [], ["channel", "pattern", "host", "port", "password"], argv)


if __name__ == "__main__":
    main()
