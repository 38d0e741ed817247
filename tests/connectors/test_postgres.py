"""The PostgreSQL connectors (wallaroo.connectors.postgres_source/postgres_sink) against a real PostgreSQL server
(servers.py) and a real protocol peer (protocol_worker.py)."""
import pytest

from protocol_worker import ProtocolWorker, SinkPeer
from wallaroo.experimental import cwm
from wallaroo.experimental.source_connectors import stream_id_of

from loopback_ports import free_port

psycopg2 = pytest.importorskip("psycopg2", reason="psycopg2 is not installed (Debian: python3-psycopg2)")


def sql(dsn, statement, args=()):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(statement, args)
        rows = cursor.fetchall() if cursor.description else None
    conn.close()
    return rows


def listening(dsn, channel):
    """True once a session's last statement was the connector's LISTEN."""
    return sql(dsn, "SELECT count(*) FROM pg_stat_activity WHERE query = %s", ('LISTEN "%s"' % channel,))[0][0] > 0


def test_postgres_source_sends_notifications(postgres_server, connector_app, start_connector):
    dsn = postgres_server.dsn
    worker = ProtocolWorker()
    connector = start_connector("postgres_source", connector_app(source_port=worker.port), "--in-dsn", dsn,
                                "--in-channel", "orders")
    sid = stream_id_of("postgres:orders")
    assert worker.wait_for(lambda w: w.notified and listening(dsn, "orders"))
    sql(dsn, "NOTIFY orders, 'first'")
    sql(dsn, "SELECT pg_notify('orders', %s)", ("sécond",))
    sql(dsn, "NOTIFY other, 'not listened to'")
    assert worker.wait_for_messages(2) == [(sid, 1, None, b"first"), (sid, 2, None, "sécond".encode())]
    assert connector.stop() == 0
    assert connector.stderr() == ""
    worker.close()


def test_postgres_sink_inserts_rows(postgres_server, connector_app, start_connector):
    dsn = postgres_server.dsn
    sql(dsn, "CREATE TABLE events (id serial PRIMARY KEY, body text)")
    port = free_port()
    sink = start_connector("postgres_sink", connector_app(sink_port=port), "--out-dsn", dsn, "--out-table",
                           "events", "--out-column", "body")
    peer = SinkPeer(port)
    peer.open_stream()
    peer.send(b"e1")
    peer.send(b"e2")
    assert peer.phase1("t:c_id=1") is True
    assert sql(dsn, "SELECT id, body FROM events ORDER BY id") == [(1, "e1"), (2, "e2")]
    assert sink.stop() == 0
    assert sink.stderr() == ""


def test_postgres_sink_writes_bytes_to_a_bytea_column(postgres_server, connector_app, start_connector):
    dsn = postgres_server.dsn
    sql(dsn, "CREATE TABLE blobs (body bytea)")
    port = free_port()
    sink = start_connector("postgres_sink", connector_app(sink_port=port), "--out-dsn", dsn, "--out-table",
                           "public.blobs", "--out-column", "body", "--out-bytes", "bytea")
    peer = SinkPeer(port)
    peer.open_stream()
    peer.send(b"\xff\x00")
    assert peer.phase1("t:c_id=1") is True
    assert [bytes(r[0]) for r in sql(dsn, "SELECT body FROM blobs")] == [b"\xff\x00"]
    assert sink.stop() == 0


def test_postgres_sink_stops_on_a_refused_insert(postgres_server, connector_app, start_connector):
    port = free_port()
    sink = start_connector("postgres_sink", connector_app(sink_port=port), "--out-dsn", postgres_server.dsn,
                           "--out-table", "missing", "--out-column", "body")
    peer = SinkPeer(port)
    peer.open_stream()
    peer.send(b"x")
    expected = 'INSERT INTO missing failed: relation "missing" does not exist'
    assert peer.read() == cwm.Error(expected)
    assert sink.wait() == 1
    assert sink.stderr() == "postgres-sink: %s\n" % expected
