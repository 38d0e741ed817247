"""windowed.py with the application's own serialize/deserialize (JSON), as a Wallaroo app may define them for its
own objects (here the events, which are text). JSON cannot represent a window stage's state (its panes are keyed by
number), so this app shows that Roo keeps window state in its own format, whatever the application's serializer."""
import json

from windowed import *  # noqa: F401,F403  (application_setup and everything it uses)


def serialize(o):
    return json.dumps(o).encode("utf-8")


def deserialize(bs):
    return json.loads(bs.decode("utf-8"))
