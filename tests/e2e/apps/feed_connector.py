"""A connector process for the tests: feeds one framed file (``u32 BE length | payload`` records) to a worker's
connector source with wallaroo.experimental's MultiSourceConnector and FramedFileReader, then exits 0 once the
worker acknowledged the whole file (exit 1 with one line on stderr when it cannot go on).

Usage: feed_connector.py HOST PORT COOKIE FILE [--delay SECONDS] [--connect-timeout SECONDS]
It retries its first connection until --connect-timeout (the worker may still be starting); after that a lost
connection is retried by the connector itself (AtLeastOnceSourceConnector.reconnect_on_loss).
"""
import argparse
import sys
import time

import wallaroo.experimental as experimental


def main():
    parser = argparse.ArgumentParser(prog="feed_connector")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("cookie")
    parser.add_argument("file")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--connect-timeout", type=float, default=30.0)
    opts = parser.parse_args()
    connector = experimental.MultiSourceConnector("0.0.1", opts.cookie, "feed_connector", "feeder", opts.host,
                                                  opts.port, delay=opts.delay)
    connector.add_source(experimental.FramedFileReader(opts.file))
    deadline = time.monotonic() + opts.connect_timeout
    while True:
        try:
            connector.connect()
            break
        except (OSError, experimental.ConnectorError) as e:
            if time.monotonic() > deadline:
                sys.stderr.write("feed_connector: cannot connect to %s:%d: %s\n" % (opts.host, opts.port, e))
                return 1
            time.sleep(0.1)
    connector.join()
    if connector.error is not None:
        sys.stderr.write("feed_connector: %s\n" % connector.error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
