"""Kafka source and sink entries of the description, from every Wallaroo Kafka form.

Tuples (``to_tuple()`` of the configs; Roo's own options, when given, ride in a
trailing dict):

* ``("kafka", name, topic, brokers, log_level, decoder[, options])``: KafkaSourceConfig,
  CustomKafkaSourceCLIParser;
* ``("kafka", "", topic, brokers, log_level, max_produce_buffer_ms, max_message_size,
  encoder[, options])``: KafkaSinkConfig, CustomKafkaSinkCLIParser;
* ``("kafka-internal", prefix, decoder_or_encoder[, options])``: the Default*CLIParser
  forms, whose settings are the ``--<prefix>_*`` flags of the app's args.

Every Kafka client also gets the app's ``--kafka-property key=value`` flags.
"""

import re

from . import _arity
from . import _describe_objects as objects
from .cli_args import _LOG_LEVELS, kafka_prefixed_options, kafka_property_flags
from .errors import WallarooParameterError

_SOURCE_OPTIONS = ("topics", "group", "start", "properties", "flag_properties")
_SINK_OPTIONS = ("properties", "partitioner", "flag_properties")
_STARTS = ("earliest", "latest")
# librdkafka 2.0's `partitioner` values.
_PARTITIONERS = ("random", "consistent", "consistent_random", "murmur2", "murmur2_random", "fnv1a",
                 "fnv1a_random")
_PREFIX = re.compile(r"^[A-Za-z0-9_-]+$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def _fail(where, text, *values):
    raise WallarooParameterError("{0}: {1}".format(where, text.format(*values)))


def _options(config, length, allowed, where):
    """Roo's options dict: the element after Wallaroo's ``length`` ones, if any."""
    if len(config) == length:
        return {}
    options = config[length]
    if not isinstance(options, dict):
        _fail(where, "expected a dict of Roo's Kafka options after the Wallaroo fields, got {0!r}",
              options)
    for key in options:
        if key not in allowed:
            _fail(where, "unknown Kafka option {0!r} (Roo's are: {1})", key,
                  ", ".join(k for k in allowed if k != "flag_properties"))
    return options


def _topics(where, topic, extra, hint):
    """``topic`` (a comma list is several) followed by the ``topics`` option, checked."""
    if topic is not None and not isinstance(topic, str):
        _fail(where, "the Kafka topic must be a str, got {0!r}", topic)
    names = [t.strip() for t in topic.split(",")] if topic else []
    if extra is not None:
        if isinstance(extra, str) or not isinstance(extra, (list, tuple)):
            _fail(where, "topics must be a list of topic names, got {0!r}", extra)
        for name in extra:
            if not isinstance(name, str):
                _fail(where, "topics must be a list of topic names, got {0!r}", extra)
        names += [t.strip() for t in extra]
    if not names:
        _fail(where, "no Kafka topic given{0}", hint("topic"))
    for name in names:
        if not _TOPIC.match(name) or name in (".", ".."):
            _fail(where, "{0!r} is not a Kafka topic name (1 to 249 letters, digits, '.', '_' or '-')",
                  name)
        if names.count(name) > 1:
            _fail(where, "Kafka topic {0!r} is listed twice", name)
    return names


def _port(where, broker, port):
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        _fail(where, "Kafka broker {0!r}: the port must be an integer 1..65535, got {1!r}", broker, port)
    return port


def _brokers(where, brokers, hint):
    """Wallaroo's ``[(host, port)...]`` (or Roo's ``"host:port,..."``) → ``"host:port,host:port"``."""
    if isinstance(brokers, str):
        brokers = [b.strip().rpartition(":")[::2] if ":" in b else (b.strip(), 9092)
                   for b in brokers.split(",")]
    if not isinstance(brokers, (list, tuple)):
        _fail(where, "brokers must be a list of (host, port) pairs, got {0!r}", brokers)
    if not brokers or (len(brokers) == 1 and isinstance(brokers[0], (list, tuple))
                       and len(brokers[0]) == 2 and brokers[0][0] == ""):
        _fail(where, "no Kafka brokers given{0}", hint("brokers"))
    addresses = []
    for broker in brokers:
        if not isinstance(broker, (list, tuple)) or len(broker) != 2:
            _fail(where, "Kafka broker {0!r} must be a (host, port) pair", broker)
        host, port = broker
        if not isinstance(host, str) or not host.strip():
            _fail(where, "Kafka broker {0!r}: the host must be a non-empty str", tuple(broker))
        host = host.strip()
        if ":" in host and not host.startswith("["):
            host = "[{0}]".format(host)
        addresses.append("{0}:{1}".format(host, _port(where, tuple(broker), port)))
    return ",".join(addresses)


def _log_level(where, log_level):
    if log_level not in _LOG_LEVELS:
        _fail(where, "log_level must be one of {0}, got {1!r}", ", ".join(repr(x) for x in _LOG_LEVELS),
              log_level)
    return log_level


def _property_value(where, key, value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    _fail(where, "Kafka property {0!r} must have a str, int or bool value, got {1!r}", key, value)


def _code_properties(where, properties):
    if properties is None:
        return {}
    if not isinstance(properties, dict):
        _fail(where, "properties must be a dict of librdkafka properties, got {0!r}", properties)
    result = {}
    for key, value in properties.items():
        if not isinstance(key, str) or not key.strip():
            _fail(where, "a Kafka property name must be a non-empty str, got {0!r}", key)
        result[key.strip()] = _property_value(where, key, value)
    return result


def _properties(where, options, args, flag_pairs, extra=None):
    """The client's librdkafka properties, later ones winning: the config's ``properties``, then
    ``extra`` (the sink's ``partitioner``), the app's ``--kafka-property`` flags, then the
    source's or sink's own ``--<prefix>_property`` flags."""
    merged = _code_properties(where, options.get("properties"))
    merged.update(extra or {})
    for key, value in kafka_property_flags(args, "--kafka-property") + list(flag_pairs):
        merged[key] = value
    return merged


def _flag_hint(prefix):
    """For errors: the flag that sets a field (``lambda field: " (pass --p_topic)"``)."""
    if prefix is None:
        return lambda field: ""
    return lambda field: " (pass --{0}_{1})".format(prefix, field)


def _resolve(config, sink, where, args):
    """``(wallaroo fields..., options, hint, prefix flag properties)`` for either tuple kind."""
    kind = config[0]
    if kind == "kafka-internal":
        length = 3
        if len(config) not in (length, length + 1) or not isinstance(config[1], str) or not config[1]:
            _fail(where, "unrecognised Kafka tuple {0!r}", config)
        prefix = config[1]
        if not _PREFIX.match(prefix):
            _fail(where, "the Kafka flag prefix {0!r} (the parser's name) must be letters, digits, '_' "
                  "or '-'", prefix)
        fields = kafka_prefixed_options(args, prefix, sink)
        options = _options(config, length, _SINK_OPTIONS if sink else _SOURCE_OPTIONS, where)
        flag_pairs = kafka_property_flags(args, "--{0}_property".format(prefix))
        return (prefix,) + tuple(fields) + (config[2],), options, _flag_hint(prefix), flag_pairs
    length = 8 if sink else 6
    if len(config) not in (length, length + 1):
        _fail(where, "unrecognised Kafka {0} tuple {1!r}", "sink" if sink else "source", config)
    options = _options(config, length, _SINK_OPTIONS if sink else _SOURCE_OPTIONS, where)
    return tuple(config[1:length]), options, _flag_hint(None), options.get("flag_properties") or []


def _decode(decoder, where):
    decode = objects.user_callable(objects.instance(decoder), "decode", where + " decoder")
    if not _arity.accepts_value_or_key(decode):
        _fail(where + " decoder", "decode must take (value) or (value, key), {0!r} does not", decode)
    return decode


def kafka_source_entry(config, default_name, use_config_name, where, args):
    """A ``"kafka"`` source entry (docs/description.md) from either Kafka source tuple."""
    fields, options, hint, flag_pairs = _resolve(config, False, where, args)
    name, topic, brokers, log_level, decoder = fields
    if config[0] == "kafka-internal" or not use_config_name or not name:
        name = default_name
    where = "{0} (source {1!r})".format(where, name)
    group = options.get("group")
    if group is not None and (not isinstance(group, str) or not group.strip()):
        _fail(where, "group must be a non-empty str, got {0!r}", group)
    start = options.get("start", "earliest")
    if start not in _STARTS:
        _fail(where, "start must be 'earliest' or 'latest', got {0!r}", start)
    decode = _decode(decoder, where)
    return {"kind": "kafka", "name": str(name),
            "topics": _topics(where, topic, options.get("topics"), hint),
            "brokers": _brokers(where, brokers, hint), "group": group, "start": start,
            "properties": _properties(where, options, args, flag_pairs),
            "log_level": _log_level(where, log_level), "decode": decode,
            "decode_takes_key": _arity.takes_key(decode)}


def kafka_sink_entry(config, name, where, args):
    """A ``"kafka"`` sink entry (docs/description.md) from either Kafka sink tuple."""
    fields, options, hint, flag_pairs = _resolve(config, True, where, args)
    _name, topic, brokers, log_level, buffer_ms, max_message_size, encoder = fields
    topics = _topics(where, topic, None, hint)
    if len(topics) > 1:
        _fail(where, "a Kafka sink writes one topic, got {0!r}", topic)
    partitioner = options.get("partitioner")
    if partitioner is not None and partitioner not in _PARTITIONERS:
        _fail(where, "partitioner must be one of librdkafka's ({0}), got {1!r}",
              ", ".join(_PARTITIONERS), partitioner)
    extra = {"partitioner": partitioner} if partitioner is not None else {}
    return {"kind": "kafka", "name": name, "topic": topics[0],
            "brokers": _brokers(where, brokers, hint),
            "properties": _properties(where, options, args, flag_pairs, extra),
            "max_message_size": objects.integer(where, "max_message_size", max_message_size, 1, 1000000000),
            "max_produce_buffer_ms": objects.integer(where, "max_produce_buffer_ms", buffer_ms, 0, 900000),
            "log_level": _log_level(where, log_level),
            "encode": objects.user_callable(objects.instance(encoder), "encode", where + " encoder")}
