"""A sink that drops every output (Bruco mode without a sink: docs/bruco.md, docs/description.md).

Its encoder still runs, and each output it returns (anything but None) is counted where every sink's outputs are --
the stop line's "outputs written", the sink's metrics -- then thrown away. Everything is "delivered" at once, so a
Kafka source's offsets are committed as after any sink's delivery::

    wallaroo.source("in", source).to(handle).to_sink(DiscardSinkConfig(encode))
"""


class DiscardSinkConfig(object):
    """Drops what ``encoder`` returns for each output (bytes or str; None: not an output)."""

    def __init__(self, encoder):
        self.encoder = encoder

    def to_tuple(self):
        return ("discard", self.encoder)
