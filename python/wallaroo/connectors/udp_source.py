"""UDP source: every datagram received on a local address is one message, on one stream named ``udp:HOST:PORT``.

Params: ``--NAME-port P`` (required: the UDP port to listen on); optional ``--NAME-host H`` (default ``127.0.0.1``),
``--NAME-key K`` (sent with every message).
Point of reference: a counter (see _counted_source.py). UDP cannot replay: datagrams that arrive while the connector
is not running, that the kernel drops, or that are in flight when it stops are lost. From the connector on, delivery
is at-least-once.
"""

import socket

from ._counted_source import CountedSource
from ._script import number
from ._source_script import SourceFailed, run_source

PROGRAM = "udp-source"
MAX_DATAGRAM = 65535


class DatagramSource(CountedSource):
    def __init__(self, host, port, key=None):
        CountedSource.__init__(self, "udp:{0}:{1}".format(host, port), key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, port))
        except OSError as e:
            self.sock.close()
            raise SourceFailed("unable to listen for UDP on {0}:{1}: {2}".format(host, port, e.strerror))
        self.sock.setblocking(False)

    def receive(self):
        try:
            return self.sock.recv(MAX_DATAGRAM)
        except BlockingIOError:
            return None

    def close(self):
        self.sock.close()


def make_sources(settings):
    key = settings.params.key.encode("utf-8") if settings.params.key else None
    return [DatagramSource(settings.params.host or "127.0.0.1", number(settings, "port", 0), key)]


def main(argv=None):
    run_source(PROGRAM, make_sources, ["port"], ["host", "key"], argv)


if __name__ == "__main__":
    main()
