"""Default serializers (pickle), replaceable by a top-level pair in the app module."""

import pickle


def serialize(o):
    """Default serializer: ``pickle.dumps(o)``."""
    return pickle.dumps(o)


def deserialize(bs):
    """Default deserializer: ``pickle.loads(bs)``."""
    return pickle.loads(bs)
