"""Turns user objects and config tuples into entries of the canonical description.

Callables in the description are the raw user functions for decorated objects
(``_roo_fn``) and bound methods for G0 class instances.
"""

import inspect
import struct

from . import _arity
from . import _describe_http as http
from . import _describe_kafka as kafka
from . import _describe_nats as nats
from .decorators import check_length_format
from .errors import WallarooParameterError
from .wrapped import KeyExtractor, OctetDecoder, PartitionFunction, StateComputation

_UNSIGNED_BY_SIZE = {1: "B", 2: "H", 4: "I", 8: "Q"}


def instance(obj):
    return obj() if inspect.isclass(obj) else obj


def user_callable(obj, method, where):
    """The raw function of a decorated object, else the bound ``method``."""
    fn = getattr(obj, "_roo_fn", None)
    if fn is not None:
        return fn
    bound = getattr(obj, method, None)
    if not callable(bound):
        raise WallarooParameterError(
            "{0}: {1!r} has no {2}() method".format(where, obj, method))
    return bound


def integer(where, what, value, lowest, highest=None):
    if isinstance(value, bool):
        value = None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < lowest or (highest is not None and number > highest):
        bounds = "{0}..{1}".format(lowest, highest) if highest is not None else ">= {0}".format(lowest)
        raise WallarooParameterError(
            "{0}: {1} must be an integer {2}, got {3!r}".format(where, what, bounds, value))
    return number


def checked_host(where, host):
    if not isinstance(host, str):
        raise WallarooParameterError("{0}: host must be a str, got {1!r}".format(where, host))
    return host


def stage_name(obj, where):
    """``obj.name()`` as str (computations), else the decorated function's name."""
    name = getattr(obj, "name", None)
    if callable(name):
        return str(name())
    raw = getattr(obj, "_roo_name", None)
    if raw is not None:
        return str(raw)
    raise WallarooParameterError("{0}: {1!r} has no name() method".format(where, obj))


def _not_supported(kind, what, where):
    raise WallarooParameterError(
        "{0} kind {1!r} is not supported yet by Roo ({2})".format(what, kind, where))


def one_value_decode(decode, where):
    """A TCP or connector source's decoder gets no key: ``decode(value, key)`` is a mistake here."""
    if _arity.requires_two(decode):
        raise WallarooParameterError(
            "{0} decoder: {1!r} takes (value, key), but only a Kafka source passes a key; "
            "this source's decoder takes (value)".format(where, decode))
    return decode


def _decoder_fields(decoder, where):
    decoder = instance(decoder)
    decode = one_value_decode(user_callable(decoder, "decode", where + " decoder"), where)
    if isinstance(decoder, OctetDecoder):
        header_length = decoder._roo_header_length
        length_fmt = check_length_format(where + " decoder", header_length,
                                         decoder._roo_length_fmt)
        return header_length, length_fmt, decode
    header_length = getattr(decoder, "header_length", None)
    if not callable(header_length):
        raise WallarooParameterError(
            "{0}: decoder {1!r} has no header_length() method".format(where, decoder))
    size = header_length()
    if size not in _UNSIGNED_BY_SIZE or isinstance(size, bool):
        raise WallarooParameterError(
            "{0}: decoder header_length() returned {1!r}; Roo supports 1, 2, 4 or 8"
            .format(where, size))
    return size, _probe_length_fmt(decoder, size, where), decode


def _probe_length_fmt(decoder, size, where):
    """Find the byte order a G0 ``payload_length`` uses by trying one header."""
    code = _UNSIGNED_BY_SIZE[size]
    sample = bytes(range(1, size + 1))
    payload_length = getattr(decoder, "payload_length", None)
    if not callable(payload_length):
        raise WallarooParameterError(
            "{0}: decoder {1!r} has no payload_length() method".format(where, decoder))
    try:
        got = payload_length(sample)
    except Exception as e:
        raise WallarooParameterError(
            "{0}: decoder payload_length({1!r}) raised {2}: {3}".format(
                where, sample, type(e).__name__, e))
    for order in (">", "<"):
        if got == struct.unpack(order + code, sample)[0]:
            return order + code
    raise WallarooParameterError(
        "{0}: decoder payload_length() must read the header as one unsigned integer "
        "(big or little endian); payload_length({1!r}) returned {2!r}".format(
            where, sample, got))


def source_entry(config, default_name, use_config_name, where, args=()):
    """A source entry from a config tuple (G2', 0.6.0 or G1 shapes); ``args``: the app's flags."""
    if not isinstance(config, tuple) or not config:
        raise WallarooParameterError(
            "{0}: expected a source config tuple, got {1!r}".format(where, config))
    kind = config[0]
    if kind == "tcp":
        if len(config) == 4:  # old form (host, port, decoder)
            name, host, port, decoder = default_name, config[1], config[2], config[3]
            valid, parallelism, max_size = True, 10, 16384
        elif len(config) in (7, 9):
            name, host, port, decoder, valid, parallelism = config[1:7]
            max_size = config[7] if len(config) == 9 else 16384
            if not use_config_name or not name:
                name = default_name
        else:
            raise WallarooParameterError(
                "{0}: unrecognised TCP source tuple {1!r}".format(where, config))
        where = "{0} (source {1!r})".format(where, name)
        header_length, length_fmt, decode = _decoder_fields(decoder, where)
        return {"kind": "tcp", "name": str(name), "host": checked_host(where, host),
                "port": integer(where, "port", port, 0, 65535),
                "max_size": integer(where, "max_size", max_size, 1),
                "parallelism": integer(where, "parallelism", parallelism, 1),
                "valid": bool(valid), "header_length": header_length,
                "length_fmt": length_fmt, "decode": decode}
    if kind == "gen":
        if len(config) == 2:
            name, gen = default_name, config[1]
        elif len(config) == 3:
            name, gen = config[1], config[2]
            if not use_config_name or not name:
                name = default_name
        else:
            raise WallarooParameterError(
                "{0}: unrecognised generator source tuple {1!r}".format(where, config))
        gen = instance(gen)
        where = "{0} (source {1!r})".format(where, name)
        for method in ("initial_value", "apply"):
            if not callable(getattr(gen, method, None)):
                raise WallarooParameterError(
                    "{0}: generator {1!r} has no {2}() method".format(where, gen, method))
        return {"kind": "gen", "name": str(name), "initial_value": gen.initial_value,
                "apply": gen.apply}
    if kind == "source_connector":
        return _connector_source(config, default_name, use_config_name, where)
    if kind in ("kafka", "kafka-internal"):
        return kafka.kafka_source_entry(config, default_name, use_config_name, where, args)
    if kind == "nats":
        return nats.nats_source_entry(config, default_name, use_config_name, where)
    if kind == "http":
        return http.http_source_entry(config, default_name, use_config_name, where)
    _not_supported(kind, "source", where)


def _connector_source(config, default_name, use_config_name, where):
    """``("source_connector", name, host, port, encoder, decoder, cookie, max_credits, refill_credits)``."""
    if len(config) != 9:
        raise WallarooParameterError(
            "{0}: unrecognised connector source tuple {1!r}".format(where, config))
    name, host, port, _encoder, decoder, cookie, max_credits, refill_credits = config[1:]
    if not use_config_name or not name:
        name = default_name
    where = "{0} (source {1!r})".format(where, name)
    return {"kind": "connector", "name": str(name), "host": checked_host(where, host),
            "port": integer(where, "port", port, 0, 65535),
            "decode": one_value_decode(
                user_callable(instance(decoder), "decode", where + " decoder"), where),
            "cookie": str(cookie), "max_credits": integer(where, "max_credits", max_credits, 1),
            "refill_credits": integer(where, "refill_credits", refill_credits, 0)}


def sink_entry(config, index, where, args=()):
    """A sink entry from a sink tuple (TCP, connector, Kafka, NATS, HTTP reply, discard); ``args``: the app's flags."""
    if not isinstance(config, tuple) or not config:
        raise WallarooParameterError(
            "{0}: expected a sink config tuple, got {1!r}".format(where, config))
    name = "sink {0}".format(index)
    where = "{0} ({1})".format(where, name)
    if config[0] == "tcp":
        if len(config) == 5:
            host, port, encoder = config[2:5]
        elif len(config) == 4:
            host, port, encoder = config[1:4]
        else:
            raise WallarooParameterError(
                "{0}: unrecognised TCP sink tuple {1!r}".format(where, config))
        encode = user_callable(instance(encoder), "encode", where + " encoder")
        return {"kind": "tcp", "name": name, "host": checked_host(where, host),
                "port": integer(where, "port", port, 1, 65535), "encode": encode}
    if config[0] == "sink_connector" and len(config) in (6, 7):
        name = str(config[1] or name)
        host, port, encoder = config[2], config[3], config[4]
        return {"kind": "connector", "name": name, "host": checked_host(where, host),
                "port": integer(where, "port", port, 1, 65535),
                "encode": user_callable(instance(encoder), "encode", where + " encoder"),
                "cookie": str(config[6]) if len(config) == 7 else ""}
    if config[0] in ("kafka", "kafka-internal"):
        return kafka.kafka_sink_entry(config, name, where, args)
    if config[0] == "nats":
        return nats.nats_sink_entry(config, name, where)
    if config[0] == "http_reply":
        return http.http_reply_sink_entry(config, name, where)
    if config[0] == "discard" and len(config) == 2:
        return {"kind": "discard", "name": name,
                "encode": user_callable(instance(config[1]), "encode", where + " encoder")}
    _not_supported(config[0], "sink", where)


def computation_stage(obj, where):
    """A stateless computation stage (``compute`` or ``compute_multi``)."""
    obj = instance(obj)
    if isinstance(obj, StateComputation):
        raise WallarooParameterError(
            "{0}: {1!r} is a state computation; use it where state is given".format(
                where, stage_name(obj, where)))
    multi = hasattr(obj, "compute_multi")
    if not multi and not hasattr(obj, "compute"):
        raise WallarooParameterError(
            "{0}: {1!r} is not a computation (no compute/compute_multi)".format(where, obj))
    name = stage_name(obj, where)
    fn = user_callable(obj, "compute_multi" if multi else "compute",
                        "{0} (computation {1!r})".format(where, name))
    return {"kind": "computation", "name": name, "fn": fn, "multi": multi}


def state_stage(obj, state_name, state_factory, returns_persist, where):
    """A state computation stage (``compute(data, state)`` / ``compute_multi``)."""
    obj = instance(obj)
    multi = hasattr(obj, "compute_multi")
    if not multi and not hasattr(obj, "compute"):
        raise WallarooParameterError(
            "{0}: {1!r} is not a state computation (no compute/compute_multi)"
            .format(where, obj))
    name = stage_name(obj, where)
    fn = user_callable(obj, "compute_multi" if multi else "compute",
                        "{0} (state computation {1!r})".format(where, name))
    if state_factory is None:
        state_factory = getattr(obj, "_roo_state_cls", None) or getattr(obj, "initial_state", None)
    if not callable(state_factory):
        raise WallarooParameterError(
            "{0}: state computation {1!r} has no state class".format(where, name))
    state_name = str(name if state_name is None else state_name)
    return {"kind": "state", "name": name, "fn": fn, "multi": multi,
            "state_name": state_name, "state_id": state_name,
            "state_factory": state_factory, "returns_persist": bool(returns_persist)}


def key_by_stage(obj, where):
    """A key_by stage; int keys become chr() only for G2 @key_extractor objects."""
    obj = instance(obj)
    decorated_g2 = isinstance(obj, KeyExtractor) and not isinstance(obj, PartitionFunction)
    method = "extract_key" if hasattr(obj, "extract_key") else "partition"
    fn = user_callable(obj, method, where + " key function")
    name = getattr(obj, "_roo_name", None) or type(obj).__name__
    return {"kind": "key_by", "name": str(name), "fn": fn, "int_as_chr": decorated_g2}


def collect_stage(key):
    """A collect stage: every message gets the constant ``key``."""
    return {"kind": "collect", "name": "collect", "key": key}


def window_stage(windows):
    """A window stage from what ``range_windows``/``count_windows``/``session_windows(...).over(Agg)`` built.

    Every size key is present (unused ones 0); ``state_id`` is the name here, made unique by the caller.
    """
    name = windows.describe_name()
    return {"kind": "window", "name": name, "state_id": name, "window": windows.kind,
            "range": windows.range, "slide": windows.slide, "delay": windows.delay, "gap": windows.gap,
            "count": windows.count, "late_data_policy": windows.late_data_policy,
            "aggregation": windows.aggregation}
