"""The Kafka test broker (tools/kafka/broker) and the `kafka` fixture (kafka_fixtures.py) that Roo's Kafka tests
stand on: exact records through a real broker, transactions as read_committed readers see them, fencing, restarts
that keep the data, and the start script's error lines."""
import os
import socket
import subprocess

import pytest

from kafka_broker import BROKER_SCRIPT, BrokerError, KafkaBroker
from loopback_ports import free_port


def _visible(records):
    """What a reader sees of each record: (partition, key, value, headers)."""
    return [(r.partition, r.key, r.value, r.headers) for r in records]


def test_records_keep_partition_key_value_headers_and_timestamp(kafka):
    topic = kafka.create_topic(kafka.unique_topic("exact"), partitions=3)
    kafka.produce(topic, [
        ("k1", "v1", None, 0),
        (b"k2", b"\x00\xffv2", [("h1", b"a"), ("h1", b"b"), ("h2", "c")], 1),
        {"key": None, "value": "no key", "partition": 2, "timestamp": 1700000000123},
        {"key": "k3", "value": None, "headers": {"only": b""}, "partition": 0},
        ("k4", "v4", [], 2),
    ])
    records = kafka.consume(topic)
    assert [(r.topic, r.partition, r.offset, r.key, r.value, r.headers) for r in records] == [
        (topic, 0, 0, b"k1", b"v1", []),
        (topic, 0, 1, b"k3", None, [("only", b"")]),
        (topic, 1, 0, b"k2", b"\x00\xffv2", [("h1", b"a"), ("h1", b"b"), ("h2", b"c")]),
        (topic, 2, 0, None, b"no key", []),
        (topic, 2, 1, b"k4", b"v4", []),
    ]
    assert records[3].timestamp == 1700000000123
    assert all(r.timestamp > 1700000000123 for r in records if r.value != b"no key")
    # count stops early; the remaining records are still there for the next reader.
    assert len(kafka.consume(topic, count=2)) == 2
    assert len(kafka.consume(topic)) == 5


def test_aborted_transaction_is_invisible_to_read_committed_only(kafka):
    topic = kafka.create_topic(kafka.unique_topic("txn"), partitions=2)
    producer = kafka.producer(**{"transactional.id": kafka.unique_topic("txn-id")})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(4):
        producer.produce(topic, ("aborted-%d" % i).encode(), key=b"k%d" % i, partition=i % 2)
    producer.flush(30)
    producer.abort_transaction(30)
    producer.begin_transaction()
    for i in range(4):
        producer.produce(topic, ("committed-%d" % i).encode(), key=b"k%d" % i, partition=i % 2,
                         headers=[("n", str(i).encode())])
    producer.commit_transaction(30)

    committed = [(0, b"k0", b"committed-0", [("n", b"0")]), (0, b"k2", b"committed-2", [("n", b"2")]),
                 (1, b"k1", b"committed-1", [("n", b"1")]), (1, b"k3", b"committed-3", [("n", b"3")])]
    assert _visible(kafka.consume(topic)) == committed
    assert _visible(kafka.consume(topic, isolation="read_uncommitted")) == [
        (0, b"k0", b"aborted-0", []), (0, b"k2", b"aborted-2", []), committed[0], committed[1],
        (1, b"k1", b"aborted-1", []), (1, b"k3", b"aborted-3", []), committed[2], committed[3]]


def test_open_transaction_is_invisible_until_committed(kafka):
    topic = kafka.create_topic(kafka.unique_topic("open-txn"))
    producer = kafka.producer(**{"transactional.id": kafka.unique_topic("open-txn-id")})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, b"pending", key=b"k")
    producer.flush(30)
    assert kafka.consume(topic) == []
    assert _visible(kafka.consume(topic, isolation="read_uncommitted")) == [(0, b"k", b"pending", [])]
    producer.commit_transaction(30)
    assert _visible(kafka.consume(topic)) == [(0, b"k", b"pending", [])]


def test_second_producer_with_same_transactional_id_fences_the_first(kafka):
    ck = kafka.ck
    topic = kafka.create_topic(kafka.unique_topic("fence"))
    transactional_id = kafka.unique_topic("fence-id")
    zombie = kafka.producer(**{"transactional.id": transactional_id})
    zombie.init_transactions(30)
    zombie.begin_transaction()
    zombie.produce(topic, b"from the zombie")
    zombie.flush(30)

    replacement = kafka.producer(**{"transactional.id": transactional_id})
    replacement.init_transactions(30)  # aborts the zombie's open transaction
    with pytest.raises(ck.KafkaException) as raised:
        zombie.produce(topic, b"after fencing")
        zombie.commit_transaction(30)
    assert raised.value.args[0].code() == ck.KafkaError._FENCED
    assert raised.value.args[0].fatal()

    replacement.begin_transaction()
    replacement.produce(topic, b"from the replacement")
    replacement.commit_transaction(30)
    assert [r.value for r in kafka.consume(topic)] == [b"from the replacement"]


def test_group_consume_commits_offsets_and_committed_reports_them(kafka):
    topic = kafka.create_topic(kafka.unique_topic("group"), partitions=2)
    group = kafka.unique_topic("group-id")
    assert kafka.committed(group, topic) == {0: None, 1: None}
    kafka.produce(topic, [("a", "1", None, 0), ("b", "2", None, 0), ("c", "3", None, 1)])
    assert [r.value for r in kafka.consume(topic, group=group)] == [b"1", b"2", b"3"]
    assert kafka.committed(group, topic) == {0: 2, 1: 1}
    kafka.produce(topic, [("d", "4", None, 1)])
    assert [r.value for r in kafka.consume(topic, group=group)] == [b"4"]
    assert kafka.committed(group, topic) == {0: 2, 1: 2}


def test_broker_restart_and_kill_keep_data_ports_and_committed_offsets(kafka):
    topic = kafka.create_topic(kafka.unique_topic("restart"), partitions=2)
    group = kafka.unique_topic("restart-group")
    before = [("k%d" % i, "v%d" % i, [("i", str(i))], i % 2) for i in range(10)]
    kafka.produce(topic, before)
    assert len(kafka.consume(topic, group=group, count=10)) == 10
    bootstrap = kafka.bootstrap

    kafka.restart()
    assert kafka.bootstrap == bootstrap
    assert [(r.key, r.value) for r in kafka.consume(topic) if r.partition == 0] == [
        (b"k%d" % i, b"v%d" % i) for i in range(0, 10, 2)]
    assert kafka.committed(group, topic) == {0: 5, 1: 5}

    kafka.kill()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(bootstrap.split(":")[1])), timeout=5).close()
    kafka.start()
    kafka.produce(topic, [("after", "kill", None, 1)])
    records = kafka.consume(topic)
    assert len(records) == 11
    assert (records[-1].partition, records[-1].offset, records[-1].value) == (1, 5, b"kill")
    assert kafka.committed(group, topic) == {0: 5, 1: 5}


def _script(*args, env=None):
    return subprocess.run([BROKER_SCRIPT] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120, env=env)


def test_start_without_jars_says_how_to_install_them(tmp_path):
    env = dict(os.environ, ROO_KAFKA_HOME=str(tmp_path / "nowhere"))
    result = _script("start", str(tmp_path / "broker"), "1", "2", env=env)
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode() == ("roo kafka broker: unable to start the broker: no Kafka jars in %s/lib "
                                      "(run tools/kafka/install)\n" % (tmp_path / "nowhere"))


def test_usage_errors_exit_2(tmp_path):
    for argv in ([], ["start", str(tmp_path)], ["launch", str(tmp_path)], ["stop", str(tmp_path), "1"]):
        result = _script(*argv)
        assert result.returncode == 2, argv
        assert result.stderr.decode() == ("usage: tools/kafka/broker start DIR PORT [CONTROLLER_PORT] | stop DIR "
                                          "| restart DIR | kill DIR\n"), argv


def test_start_on_a_port_in_use_fails_at_once(tmp_path, kafka):
    taken = int(kafka.bootstrap.split(":")[1])
    try:
        result = _script("start", str(tmp_path), str(free_port()), str(taken))
    finally:
        _script("stop", str(tmp_path))
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode().startswith("roo kafka broker: unable to start the broker on 127.0.0.1:")
    assert result.stderr.decode().endswith(": port %d is already in use\n" % taken)


def test_broker_that_cannot_bind_fails_with_the_log_tail(tmp_path):
    # Bound but not listening: the script's check passes, the broker's own bind fails and it exits.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        port = free_port()
        holder.bind(("127.0.0.1", port))
        broker = KafkaBroker(str(tmp_path / "broker"))
        broker.port, broker.controller_port = port, free_port()
        with pytest.raises(BrokerError) as raised:
            broker.start()
    lines = str(raised.value).split("\n")
    assert lines[0] == ("roo kafka broker: unable to start the broker on 127.0.0.1:%d: it exited with status 1; "
                        "the last lines of %s/broker/broker.log:" % (port, tmp_path))
    assert "Caused by: java.net.BindException: Address already in use" in lines[1:]
    assert not os.path.exists(tmp_path / "broker" / "broker.pid")


def test_stop_and_restart_errors(tmp_path):
    result = _script("restart", str(tmp_path))
    assert (result.returncode, result.stderr.decode()) == (1, (
        "roo kafka broker: unable to restart the broker in %s: it was never started there (no %s/ports)\n"
        % (tmp_path, tmp_path)))
    result = _script("stop", str(tmp_path / "missing"))
    assert (result.returncode, result.stderr.decode()) == (1, (
        "roo kafka broker: unable to stop the broker in %s/missing: no such directory\n" % tmp_path))
    # Stopping a broker that is not running is not an error (teardown after a failed start).
    assert _script("stop", str(tmp_path)).returncode == 0
