"""ctest's Kafka fixture (tests/kafka/CMakeLists.txt): kafka.broker.start and kafka.broker.stop run this.

  broker_fixture.py start DIR   stops a broker an interrupted run left in DIR, empties DIR, starts a fresh broker
                                there on free ports and writes its address ("127.0.0.1:PORT") to DIR/bootstrap
  broker_fixture.py stop DIR    stops it (SIGTERM, SIGKILL after 15 s) and removes DIR/bootstrap; broker.log stays
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))

from kafka_broker import BrokerError, KafkaBroker  # noqa: E402


def start(directory):
    broker = KafkaBroker(directory)
    if os.path.isdir(directory):
        broker.stop()
        shutil.rmtree(directory)
    os.makedirs(directory)
    broker.start()
    staged = os.path.join(directory, "bootstrap.new")
    with open(staged, "w") as f:
        f.write(broker.bootstrap + "\n")
    os.rename(staged, os.path.join(directory, "bootstrap"))
    print("Kafka test broker ready at %s (%s)" % (broker.bootstrap, directory))


def stop(directory):
    if os.path.isdir(directory):
        KafkaBroker(directory).stop()
        try:
            os.remove(os.path.join(directory, "bootstrap"))
        except FileNotFoundError:
            pass


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print("usage: broker_fixture.py start|stop DIR", file=sys.stderr)
        return 2
    try:
        (start if argv[1] == "start" else stop)(os.path.abspath(argv[2]))
    except BrokerError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
