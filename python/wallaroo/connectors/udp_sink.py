"""UDP sink: sends every message as one datagram to ``HOST:PORT``.

Params: ``--NAME-port P`` (required); optional ``--NAME-host H`` (default ``127.0.0.1``).
The decoder's value must be bytes or str (UTF-8), at most 65507 bytes. UDP does not acknowledge: a datagram the
network or the receiver drops is lost (at-most-once past the sink).
"""

import socket

from ._script import number
from ._sink_script import Sink, SinkFailed, as_bytes, run_sink

PROGRAM = "udp-sink"
MAX_UDP_PAYLOAD = 65507


class DatagramSink(Sink):
    def __init__(self, host, port):
        self.address = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def write(self, value):
        data = as_bytes(value, PROGRAM)
        if len(data) > MAX_UDP_PAYLOAD:
            raise SinkFailed("a message of {0} bytes does not fit a UDP datagram (at most {1})".format(
                len(data), MAX_UDP_PAYLOAD))
        try:
            self.sock.sendto(data, self.address)
        except OSError as e:
            raise SinkFailed("unable to send to {0}:{1}: {2}".format(self.address[0], self.address[1], e.strerror))

    def close(self):
        self.sock.close()


def make_sink(settings):
    return DatagramSink(settings.params.host or "127.0.0.1", number(settings, "port", 0))


def main(argv=None):
    run_sink(PROGRAM, make_sink, ["port"], ["host"], argv)


if __name__ == "__main__":
    main()
