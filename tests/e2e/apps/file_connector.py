"""A connector process for tests: a MultiSourceConnector feeding FramedFileReader files to a connector source.

    file_connector.py --port P [--host H] [--cookie C] [--version V] [--instance NAME] [--delay S] FILE...

Connects (retrying every 0.1 s for up to 30 s while the worker is not listening yet), opens one stream per file
and sends its records; exits 0 once every stream ended and was acknowledged, 1 with the error on stderr otherwise.
"""
import argparse
import socket
import sys
import time

from wallaroo.experimental.connector_errors import ConnectorError
from wallaroo.experimental.source_connectors import MultiSourceConnector
from wallaroo.experimental.sources import FramedFileReader


def main():
    parser = argparse.ArgumentParser(prog="file_connector")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cookie", default="cookie")
    parser.add_argument("--version", default="0.0.1")
    parser.add_argument("--instance", default="files")
    parser.add_argument("--delay", type=float, default=0)
    parser.add_argument("files", nargs="+")
    options = parser.parse_args()
    connector = session(options)
    if connector is None:
        return 1
    connector.join()  # a worker that goes away (killed, or RESTART) is reconnected by the connector itself
    if connector.error is None:
        print("file_connector: done", flush=True)
        return 0
    sys.stderr.write("file_connector: %s\n" % connector.error)
    return 1


def session(options):
    """A connected MultiSourceConnector with one FramedFileReader per file (the worker's NOTIFY_ACK says where each
    resumes), or None when the worker refused the HELLO."""
    connector = MultiSourceConnector(options.version, options.cookie, "file_connector", options.instance,
                                     options.host, options.port, delay=options.delay)
    for name in options.files:
        connector.add_source(FramedFileReader(name))
    deadline = time.monotonic() + 30
    while True:
        try:
            connector.connect()
            return connector
        except ConnectorError as e:
            sys.stderr.write("file_connector: the worker refused the session: %s\n" % e)
            return None
        except socket.error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
