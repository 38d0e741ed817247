"""NATS source and sink entries of the description (docs/description.md), from the tuples of
``_bruco_io_nats.NatsSourceConfig`` / ``NatsSinkConfig``:

* ``("nats", name, server_url, subject, decoder, queue_group)``
* ``("nats", server_url, subject, encoder)``
"""
import re

from . import _arity
from .errors import WallarooParameterError

# nats://host:port, or a comma-separated list of them (libnats's URL list); tls:// too.
_URL = re.compile(r"^(nats|tls)://[^\s,/]+(,\s*(nats|tls)://[^\s,/]+)*$")
# A subject: tokens separated by '.', no whitespace; '*' and '>' wildcards only in a subscription.
_TOKEN = re.compile(r"^[^\s.*>]+$")


def _fail(where, message, *args):
    raise WallarooParameterError("{0}: {1}".format(where, message.format(*args)))


def _url(where, url):
    if not isinstance(url, str) or not _URL.match(url.strip()):
        _fail(where, "server_url must be a NATS URL like 'nats://127.0.0.1:4222', got {0!r}", url)
    return url.strip()


def _subject(where, subject, wildcards):
    if not isinstance(subject, str) or not subject:
        _fail(where, "subject must be a non-empty str, got {0!r}", subject)
    tokens = subject.split(".")
    for i, token in enumerate(tokens):
        if wildcards and (token == "*" or (token == ">" and i == len(tokens) - 1)):
            continue
        if not _TOKEN.match(token):
            _fail(where, "{0!r} is not a NATS subject{1} (tokens of non-space characters separated by '.'{2})",
                  subject, "" if wildcards else " to publish to",
                  "; '*' stands for one token, a final '>' for the rest" if wildcards else ", no wildcards")
    return subject


def _callable(obj, method, where):
    """A decorated decoder/encoder, an object with ``method``, an object's class, or a plain function."""
    if isinstance(obj, type):
        obj = obj()
    fn = getattr(obj, "_roo_fn", None)
    if fn is not None:
        return fn
    bound = getattr(obj, method, None)
    if callable(bound):
        return bound
    if callable(obj):
        return obj
    _fail(where, "expected a function or an object with {0}(), got {1!r}", method, obj)


def nats_source_entry(config, default_name, use_config_name, where):
    """A ``"nats"`` source entry from ``("nats", name, server_url, subject, decoder, queue_group)``."""
    if len(config) != 6:
        _fail(where, "unrecognised NATS source tuple {0!r}", config)
    _, name, server_url, subject, decoder, queue_group = config
    if not use_config_name or not name:
        name = default_name
    where = "{0} (source {1!r})".format(where, name)
    if queue_group is not None and (not isinstance(queue_group, str) or not _TOKEN.match(queue_group)):
        _fail(where, "queue_group must be None or a name without spaces, got {0!r}", queue_group)
    decode = _callable(decoder, "decode", where + " decoder")
    if _arity.requires_two(decode):
        _fail(where + " decoder", "{0!r} takes (value, key), but a NATS message has no key: take (value)", decode)
    return {"kind": "nats", "name": str(name), "server_url": _url(where, server_url),
            "subject": _subject(where, subject, True), "queue_group": queue_group, "decode": decode}


def nats_sink_entry(config, name, where):
    """A ``"nats"`` sink entry from ``("nats", server_url, subject, encoder)``."""
    if len(config) != 4:
        _fail(where, "unrecognised NATS sink tuple {0!r}", config)
    _, server_url, subject, encoder = config
    return {"kind": "nats", "name": name, "server_url": _url(where, server_url),
            "subject": _subject(where, subject, False),
            "encode": _callable(encoder, "encode", where + " encoder")}
