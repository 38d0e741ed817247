"""Errors of the connector clients."""


class ConnectorError(Exception):
    """The worker refused or ended the session (its ERROR frame's message), or the connector cannot go on."""


class ProtocolError(Exception):
    """A frame that breaks the connector protocol (spec §3.3), from either side."""


class ConnectionLost(ConnectorError):
    """The connection to the worker ended without an ERROR frame (the worker stopped or died, or the network broke)."""
