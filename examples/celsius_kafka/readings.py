"""Helper for tools/demo-kafka (Debian's python3-confluent-kafka; run with /usr/bin/python3).

    readings.py produce BOOTSTRAP IN OUT N   create the topics, produce N readings (keys sensor-0..sensor-9)
    readings.py wait BOOTSTRAP OUT N         wait until a read_committed consumer sees N outputs
    readings.py check BOOTSTRAP OUT N        read every committed output; exit 1 unless each of the N conversions
                                             is there exactly once, in order per sensor
"""
import struct
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

SENSORS = 10


def expected(n):
    lines = []
    for i in range(n):
        celsius = i / 10.0
        lines.append(("sensor-%d" % (i % SENSORS), "sensor-%d: %.2f C = %.2f F" % (
            i % SENSORS, celsius, celsius * 9.0 / 5.0 + 32.0)))
    return lines


def produce(bootstrap, source, sink, n):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(source, 3, 1), NewTopic(sink, 3, 1)]).values():
        future.result()
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(n):
        producer.produce(source, key="sensor-%d" % (i % SENSORS), value=struct.pack(">d", i / 10.0))
    producer.flush(30)
    print("== produced %d readings to '%s'" % (n, source))


def committed(bootstrap, sink, timeout):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "demo-%f" % time.time(),
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    partitions = consumer.list_topics(sink, timeout=10).topics[sink].partitions
    consumer.assign([TopicPartition(sink, p, 0) for p in partitions])
    out = []
    deadline = time.time() + timeout
    idle_since = time.time()
    while time.time() < deadline and time.time() - idle_since < 2.0:
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        idle_since = time.time()
        out.append((message.key().decode(), message.value().decode()))
    consumer.close()
    return out


def main():
    command, bootstrap = sys.argv[1], sys.argv[2]
    if command == "produce":
        produce(bootstrap, sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif command == "wait":
        sink, n = sys.argv[3], int(sys.argv[4])
        deadline = time.time() + 60
        while len(committed(bootstrap, sink, 5)) < n and time.time() < deadline:
            time.sleep(0.2)
    else:
        sink, n = sys.argv[3], int(sys.argv[4])
        deadline = time.time() + 120
        got = []
        while time.time() < deadline:
            got = committed(bootstrap, sink, 10)
            if len(got) >= n:
                break
        want = expected(n)
        by_sensor = lambda pairs, s: [line for key, line in pairs if key == s]
        ok = len(got) == n and all(by_sensor(got, "sensor-%d" % s) == by_sensor(want, "sensor-%d" % s)
                                   for s in range(SENSORS))
        print("== a read_committed consumer saw %d conversions (expected %d); the first three:" % (len(got), n))
        for key, line in got[:3]:
            print("   " + line)
        print("== each conversion exactly once, in order per sensor: %s" % ("yes" if ok else "NO"))
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
