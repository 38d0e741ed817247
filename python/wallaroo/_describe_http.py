"""HTTP source and reply sink entries of the description (Bruco mode; _bruco_io.py).

Tuples: ``("http", name, host, port, decoder, ignore_response, max_body_bytes)`` and
``("http_reply", source_name, encoder)``.
"""

from . import _describe_objects as objects
from .errors import WallarooParameterError


def http_source_entry(config, default_name, use_config_name, where):
    if len(config) != 7:
        raise WallarooParameterError(
            "{0}: unrecognised HTTP source tuple {1!r}".format(where, config))
    name, host, port, decoder, ignore_response, max_body_bytes = config[1:]
    if not use_config_name or not name:
        name = default_name
    where = "{0} (source {1!r})".format(where, name)
    if not isinstance(ignore_response, bool):
        raise WallarooParameterError(
            "{0}: ignore_response must be True or False, got {1!r}".format(where, ignore_response))
    decode = objects.one_value_decode(
        objects.user_callable(objects.instance(decoder), "decode", where + " decoder"), where)
    return {"kind": "http", "name": str(name), "host": objects.checked_host(where, host),
            "port": objects.integer(where, "port", port, 0, 65535),
            "ignore_response": ignore_response,
            "max_body_bytes": objects.integer(where, "max_body_bytes", max_body_bytes, 1,
                                              1 << 30),
            "decode": decode}


def http_reply_sink_entry(config, name, where):
    if len(config) != 3:
        raise WallarooParameterError(
            "{0}: unrecognised HTTP reply sink tuple {1!r}".format(where, config))
    source_name, encoder = config[1], config[2]
    if not isinstance(source_name, str) or not source_name:
        raise WallarooParameterError(
            "{0}: HttpReplySinkConfig needs the name of its HTTP source, got {1!r}".format(
                where, source_name))
    return {"kind": "http_reply", "name": name, "source": source_name,
            "encode": objects.user_callable(objects.instance(encoder), "encode",
                                            where + " encoder")}
