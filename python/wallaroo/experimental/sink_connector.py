"""``SinkConnector``: Wallaroo's simple listening connector sink (spec §1.4; not the two-phase-commit sink).

A connector script runs it with ``--application-module M --connector NAME`` (see ``parse_connector_args``): it
imports ``M``, calls its ``application_setup(argv)`` and takes host, port and decoder from the
``SinkConnectorConfig`` named ``NAME``. ``listen()`` accepts one connection; ``read()`` returns the next
``u32 BE length | payload`` frame decoded with the config's decoder (``None`` once the peer has closed).
"""

import socket
import struct
import sys

from .app_connector_configs import SINK, find_connector_config
from .connector_args import parse_connector_args


def find_sink_connector_config(application, connector_name, args):
    """``(host, port, decoder)`` of the sink connector ``connector_name`` in the app module ``application``."""
    config = find_connector_config(application, SINK, connector_name, args)
    return config[2], int(config[3]), config[5]


class SinkConnector(object):
    def __init__(self, args=None, required_params=(), optional_params=()):
        args = list(sys.argv if args is None else args)
        self.params = parse_connector_args(args, required_params, optional_params)
        self.host, self.port, self.decoder = find_sink_connector_config(
            self.params.application, self.params.connector_name, args)
        self._listener = None
        self._conn = None

    def listen(self):
        """Listen on the config's address and accept one connection from the worker."""
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, self.port))
        self._listener.listen(1)
        self._conn, _ = self._listener.accept()

    def _recv_exact(self, n):
        data = bytearray()
        while len(data) < n:
            chunk = self._conn.recv(n - len(data))
            if not chunk:
                return None
            data.extend(chunk)
        return bytes(data)

    def read(self):
        header = self._recv_exact(4)
        if header is None:
            return None
        payload = self._recv_exact(struct.unpack(">I", header)[0])
        if payload is None:
            return None
        return self.decoder.decode(payload)

    def close(self):
        for sock in (self._conn, self._listener):
            if sock is not None:
                sock.close()
