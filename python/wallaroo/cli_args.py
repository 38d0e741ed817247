"""Parsers for the application flags Wallaroo apps read (``--in``, ``--out``, Kafka).

They use ``parse_known_args`` so other flags pass through, never print help and
never exit the (embedded) interpreter: every problem is a WallarooParameterError.
"""

import argparse

from .errors import WallarooParameterError


class _Parser(argparse.ArgumentParser):
    def __init__(self):
        super().__init__(prog="wallaroo", add_help=False, allow_abbrev=False)

    def error(self, message):
        raise WallarooParameterError("bad application flags: {0}".format(message))


def _flag_value(args, short, long, dest):
    if args is None:
        raise WallarooParameterError(
            "missing {0}: no argument list given (pass the args application_setup "
            "received)".format(long))
    parser = _Parser()
    parser.add_argument(short, long, dest=dest)
    return getattr(parser.parse_known_args(list(args))[0], dest)


def _split_host_port(item, flag, expected):
    host, sep, port = item.rpartition(":")
    if not sep or not host or not port:
        raise WallarooParameterError(
            "bad {0} address {1!r}: expected {2}".format(flag, item, expected))
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def _items(value, flag, expected):
    items = [x.strip() for x in value.split(",")]
    if not value.strip() or any(not x for x in items):
        raise WallarooParameterError(
            "bad {0} value {1!r}: expected {2}[,...]".format(flag, value, expected))
    return items


def tcp_parse_input_addrs(args):
    """``-i/--in N1@H1:P1,H2:P2`` → ``[(N1, H1, P1), (H2, P2)]`` (strings).

    Each item is ``name@host:port`` (Wallaroo after 0.6.1) or ``host:port``
    (earlier; sources addressed by position).
    """
    expected = "name@host:port or host:port"
    value = _flag_value(args, "-i", "--in", "input_addrs")
    if value is None:
        raise WallarooParameterError(
            "missing --in (-i): this application needs its input addresses, e.g. "
            "--in my_source@127.0.0.1:7000")
    result = []
    for item in _items(value, "--in", expected):
        name, at, address = item.rpartition("@")
        host, port = _split_host_port(address, "--in", expected)
        if at:
            if not name:
                raise WallarooParameterError(
                    "bad --in address {0!r}: empty source name before '@'".format(item))
            result.append((name, host, port))
        else:
            result.append((host, port))
    return result


def tcp_parse_output_addrs(args):
    """``-o/--out H1:P1,H2:P2`` → ``[(H1, P1), (H2, P2)]`` (strings)."""
    value = _flag_value(args, "-o", "--out", "output_addrs")
    if value is None:
        raise WallarooParameterError(
            "missing --out (-o): this application needs its output addresses, e.g. "
            "--out 127.0.0.1:7002")
    return [_split_host_port(item, "--out", "host:port")
            for item in _items(value, "--out", "host:port")]


def _kafka_broker(broker):
    host, sep, port = broker.partition(":")
    return (host, port if sep else "9092")


_LOG_LEVELS = ["Fine", "Info", "Warn", "Error"]


def _kafka_flags(args, prefix, sink, parser=None):
    """The ``--<prefix>_*`` flags Wallaroo's Kafka parsers read (a sink has two more)."""
    parser = parser or _Parser()
    parser.add_argument("--{0}_topic".format(prefix), dest="topic", default="")
    parser.add_argument("--{0}_brokers".format(prefix), dest="brokers", default="")
    parser.add_argument("--{0}_log_level".format(prefix), dest="log_level",
                        default="Warn", choices=_LOG_LEVELS)
    if sink:
        parser.add_argument("--{0}_max_produce_buffer_ms".format(prefix),
                            dest="max_produce_buffer_ms", type=int, default=0)
        parser.add_argument("--{0}_max_message_size".format(prefix),
                            dest="max_message_size", type=int, default=100000)
    known = parser.parse_known_args(list(args or []))[0]
    known.brokers = [_kafka_broker(b) for b in known.brokers.split(",")]
    return known


def kafka_parse_source_options(args):
    """``--kafka_source_*`` flags → ``(name, topic, [(host, port)...], log_level)``."""
    parser = _Parser()
    parser.add_argument("--kafka_source_name", dest="name")
    known = _kafka_flags(args, "kafka_source", False, parser)
    return (known.name, known.topic, known.brokers, known.log_level)


def kafka_parse_sink_options(args):
    """``--kafka_sink_*`` flags → ``("", topic, brokers, log_level,
    max_produce_buffer_ms, max_message_size)``."""
    known = _kafka_flags(args, "kafka_sink", True)
    return ("", known.topic, known.brokers, known.log_level,
            known.max_produce_buffer_ms, known.max_message_size)


def kafka_prefixed_options(args, prefix, sink):
    """What ``Default*KafkaCLIParser(name=prefix)`` reads: the ``--<prefix>_*`` flags.

    Returns ``(topic, brokers, log_level)`` for a source, and
    ``(topic, brokers, log_level, max_produce_buffer_ms, max_message_size)`` for a sink.
    """
    known = _kafka_flags(args, prefix, sink)
    if sink:
        return (known.topic, known.brokers, known.log_level,
                known.max_produce_buffer_ms, known.max_message_size)
    return (known.topic, known.brokers, known.log_level)


def kafka_property_flags(args, flag):
    """Every ``<flag> key=value`` in ``args`` (Roo's librdkafka pass-through) → ``[(key, value)...]``."""
    parser = _Parser()
    parser.add_argument(flag, dest="items", action="append", default=[])
    result = []
    for item in parser.parse_known_args(list(args or []))[0].items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise WallarooParameterError(
                "bad {0} value {1!r}: expected key=value (a librdkafka property, e.g. "
                "security.protocol=SASL_SSL)".format(flag, item))
        result.append((key.strip(), value))
    return result
