"""``CountedSource``: a stream of a system that cannot replay (UDP, Redis pub/sub, PostgreSQL NOTIFY).

Its point of reference is a counter: message ids go on from the point of reference the worker acknowledged when the
stream opened (1, 2, ... for a stream the worker has no record of), so ids keep increasing across reconnections and
the worker's duplicate check passes them. Nothing can be asked again: what the system sent while no connector was
running, and messages in flight when the connector stops, are lost (at-most-once from the system to the connector,
at-least-once from the connector on).
"""

from ..experimental.sources import U64_MAX, BaseSource


class CountedSource(BaseSource):
    """Subclasses define ``receive()``: the next message's bytes, or ``None`` when none is there now."""

    def __init__(self, name, key=None):
        BaseSource.__init__(self, name, key)
        self.last_id = 0

    def receive(self):
        raise NotImplementedError("{0} must define receive".format(type(self).__name__))

    def point_of_ref(self):
        return self.last_id

    def reset(self, pos=U64_MAX):
        self.last_id = 0 if pos == U64_MAX else pos

    def __next__(self):
        payload = self.receive()
        if payload is None:
            return None, self.last_id
        self.last_id += 1
        return payload, self.last_id

    next = __next__
