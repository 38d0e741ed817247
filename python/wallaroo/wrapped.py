"""Base classes of the objects the decorators generate.

The runtime recognises user objects by duck typing (``compute`` versus
``compute_multi``, ``extract_key``, ``decode`` ...), as Wallaroo did, and Roo's
``describe`` also uses these classes to know which API produced an object.
Methods live on the generated classes only, so that, for example, a
``ComputationMulti`` has ``compute_multi`` and no ``compute``.
"""


class BaseWrapped(object):
    """Common base: calling a wrapped object returns itself (G0 code calls classes)."""

    def __call__(self, *args):
        return self


class Computation(BaseWrapped):
    """``@computation(name)``: ``compute(data)``."""
    _is_multi = False


class ComputationMulti(Computation):
    """``@computation_multi(name)``: ``compute_multi(data)`` returns a list."""
    _is_multi = True


class StateComputation(Computation):
    """``@state_computation(name[, state])``: ``compute(data, state)``."""


class StateComputationMulti(StateComputation, ComputationMulti):
    """``@state_computation_multi(name[, state])``: ``compute_multi(data, state)``."""


class KeyExtractor(BaseWrapped):
    """``@key_extractor`` (G2): ``extract_key(data)``; an int key becomes ``chr(key)``."""


class PartitionFunction(KeyExtractor):
    """``@partition`` (G1): ``partition(data)``; the key is used as returned."""


class Encoder(BaseWrapped):
    """Base of encoders."""


class OctetEncoder(Encoder):
    """``@encoder``: ``encode(data)`` returns the bytes to write."""


class Decoder(BaseWrapped):
    """Base of decoders."""


class OctetDecoder(Decoder):
    """``@decoder(header_length, length_fmt)``: length-prefixed frames."""


class ConnectorEncoder(Encoder):
    """``@experimental.stream_message_encoder``: ``encode(data, event_time=0, key=None)`` frames a message."""


class ConnectorDecoder(Decoder):
    """``@experimental.stream_message_decoder``: 4-byte big-endian length header, then ``decode(payload)``."""


class OctetMessageEncoder(Encoder):
    """``@experimental.octet_message_encoder``: ``encode(data)`` returns the bytes, as ``@encoder``."""


class OctetMessageDecoder(Decoder):
    """``@experimental.octet_message_decoder``: ``decode(bytes)`` of a whole message (no header)."""
