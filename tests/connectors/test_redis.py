"""The Redis connectors (wallaroo.connectors.redis_source/redis_sink) against a real redis-server (servers.py) and
a real protocol peer (protocol_worker.py)."""
import pytest

from protocol_worker import ProtocolWorker, SinkPeer
from wallaroo.experimental import cwm
from wallaroo.experimental.source_connectors import stream_id_of

from loopback_ports import free_port

redis = pytest.importorskip("redis", reason="redis-py is not installed (Debian: python3-redis)")


@pytest.fixture
def client(redis_server):
    c = redis.Redis(host="127.0.0.1", port=redis_server.port)
    c.flushall()
    yield c
    c.close()


def subscribed(client, channel, count=1):
    return dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) >= count


def test_redis_source_sends_published_messages_keyed_by_channel(redis_server, client, connector_app,
                                                               start_connector):
    worker = ProtocolWorker()
    app = connector_app(source_port=worker.port)
    connector = start_connector("redis_source", app, "--in-port", redis_server.port, "--in-channel", "news,sport")
    sid = stream_id_of("redis:127.0.0.1:%d:news,sport" % redis_server.port)
    assert worker.wait_for(lambda w: w.notified and subscribed(client, "sport"))
    client.publish("news", b"n1")
    client.publish("sport", b"s1")
    client.publish("other", b"not subscribed")
    client.publish("news", b"n2")
    assert worker.wait_for_messages(3) == [(sid, 1, b"news", b"n1"), (sid, 2, b"sport", b"s1"),
                                           (sid, 3, b"news", b"n2")]
    connector.kill()
    worker.resume_at(sid, 3)
    connector = start_connector("redis_source", app, "--in-port", redis_server.port, "--in-pattern", "ne*")
    sid = stream_id_of("redis:127.0.0.1:%d:ne*" % redis_server.port)
    worker.resume_at(sid, 3)
    assert worker.wait_for(lambda w: len(w.notified) == 2 and client.pubsub_numpat() == 1)
    client.publish("news", b"n3")
    assert worker.wait_for_messages(4)[3:] == [(sid, 4, b"news", b"n3")]
    assert connector.stop() == 0
    assert connector.stderr() == ""
    worker.close()


def test_redis_source_needs_a_channel_or_pattern(connector_app, start_connector):
    connector = start_connector("redis_source", connector_app())
    assert connector.wait() == 2
    assert connector.stderr() == "redis-source: needs --in-channel or --in-pattern\n"


def test_redis_sink_sets_hash_fields(redis_server, client, connector_app, start_connector):
    port = free_port()
    sink = start_connector("redis_sink", connector_app(sink_port=port), "--out-port", redis_server.port,
                           "--out-key", "counts")
    peer = SinkPeer(port)
    peer.open_stream()
    for payload in (b"apples=3", b"pears=a=b", b"apples=4"):
        peer.send(payload)
    assert peer.phase1("t:c_id=1") is True
    assert client.hgetall("counts") == {b"apples": b"4", b"pears": b"a=b"}
    peer.send(b"no separator here")
    assert peer.read() == cwm.Error("a message without the separator '=': b'no separator here'")
    assert sink.wait() == 1
    assert sink.stderr() == "redis-sink: a message without the separator '=': b'no separator here'\n"
