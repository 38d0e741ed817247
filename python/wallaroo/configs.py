"""Source and sink configurations; ``to_tuple()`` is what pipelines store."""

import inspect

from .cli_args import (kafka_parse_sink_options, kafka_parse_source_options,
                       kafka_property_flags)
from .errors import WallarooParameterError


def _tcp_source_new(name, host, port, decoder, valid=True, parallelism=10,
                    max_size=16384, max_received_count=50):
    return locals()


def _tcp_source_old(host, port, decoder):
    return locals()


_NEW_SIG = inspect.signature(_tcp_source_new)
_OLD_SIG = inspect.signature(_tcp_source_old)
_CORE = ("name", "host", "port", "decoder")


class TCPSourceConfig(object):
    """A TCP source (length-prefixed frames).

    Two forms, told apart by how many of name/host/port/decoder are given:
    ``(name, host, port, decoder, valid=True, parallelism=10, max_size=16384,
    max_received_count=50)`` (Wallaroo after 0.6.1) and ``(host, port, decoder)``
    (0.6.0 and the ApplicationBuilder era; the source is named by its pipeline).
    """

    def __init__(self, *args, **kwargs):
        given = len(args) + len([k for k in kwargs if k in _CORE])
        sig = _NEW_SIG if given >= 4 else _OLD_SIG
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise WallarooParameterError(
                "TCPSourceConfig takes (name, host, port, decoder, valid=True, "
                "parallelism=10, max_size=16384, max_received_count=50) or "
                "(host, port, decoder): {0}".format(e))
        bound.apply_defaults()
        values = dict(bound.arguments)
        self._old_form = sig is _OLD_SIG
        self._name = values.get("name")
        self._host = values["host"]
        self._port = values["port"]
        self._decoder = values["decoder"]
        self._valid = values.get("valid", True)
        self._parallelism = values.get("parallelism", 10)
        self._max_size = values.get("max_size", 16384)
        self._max_received_count = values.get("max_received_count", 50)

    def to_tuple(self):
        if self._old_form:
            return ("tcp", self._host, self._port, self._decoder)
        return ("tcp", self._name, self._host, self._port, self._decoder,
                self._valid, self._parallelism, self._max_size,
                self._max_received_count)


class GenSourceConfig(object):
    """A generator source: ``(name, gen)`` or ``(gen)``.

    ``gen`` provides ``initial_value()`` and ``apply(previous)``; ``None`` stops it.
    """

    def __init__(self, *args):
        if len(args) == 2:
            self._name, self._gen = args
        elif len(args) == 1:
            self._name, self._gen = None, args[0]
        else:
            raise WallarooParameterError(
                "GenSourceConfig takes (name, generator) or (generator), got {0} "
                "arguments".format(len(args)))

    def to_tuple(self):
        if self._name is None:
            return ("gen", self._gen)
        return ("gen", self._name, self._gen)


class TCPSinkConfig(object):
    """A TCP sink: every output's encoded bytes are written verbatim to host:port."""

    def __init__(self, host, port, encoder):
        self._host = host
        self._port = port
        self._encoder = encoder
        self._name = ""

    def to_tuple(self):
        return ("tcp", self._name, self._host, self._port, self._encoder)


def _with_roo_options(wallaroo_tuple, **given):
    """Wallaroo's tuple, plus a dict of Roo's own Kafka options when any was given."""
    options = dict((key, value) for key, value in given.items() if value is not None)
    return wallaroo_tuple + (options,) if options else wallaroo_tuple


class CustomKafkaSourceCLIParser(object):
    """Kafka source from ``--kafka_source_*`` flags in ``args``.

    Roo's own keyword options (docs/python-api.md#kafka): ``topics`` (more
    topics), ``group`` (consumer group), ``start`` (``"earliest"`` or
    ``"latest"``), ``properties`` (librdkafka properties); also read from
    ``args``: ``--kafka_source_property key=value`` (repeatable).
    """

    def __init__(self, args, decoder, *, topics=None, group=None, start=None, properties=None):
        (self._name, self.topic, self.brokers,
         self.log_level) = kafka_parse_source_options(args)
        self.decoder = decoder
        self._roo = dict(topics=topics, group=group, start=start, properties=properties,
                         flag_properties=kafka_property_flags(args, "--kafka_source_property") or None)

    def to_tuple(self):
        return _with_roo_options(("kafka", self._name, self.topic, self.brokers, self.log_level,
                                  self.decoder), **self._roo)


class CustomKafkaSinkCLIParser(object):
    """Kafka sink from ``--kafka_sink_*`` flags in ``args``.

    Roo's own keyword options: ``properties`` (librdkafka properties) and
    ``partitioner`` (librdkafka's partitioner name); also read from ``args``:
    ``--kafka_sink_property key=value`` (repeatable).
    """

    def __init__(self, args, encoder, *, properties=None, partitioner=None):
        (self._name, self.topic, self.brokers, self.log_level,
         self.max_produce_buffer_ms,
         self.max_message_size) = kafka_parse_sink_options(args)
        self.encoder = encoder
        self._roo = dict(properties=properties, partitioner=partitioner,
                         flag_properties=kafka_property_flags(args, "--kafka_sink_property") or None)

    def to_tuple(self):
        return _with_roo_options(("kafka", self._name, self.topic, self.brokers, self.log_level,
                                  self.max_produce_buffer_ms, self.max_message_size, self.encoder),
                                 **self._roo)


class DefaultKafkaSourceCLIParser(object):
    """Kafka source configured from the app's ``--<name>_*`` flags (read when the app is described).

    The flags: ``--<name>_topic``, ``--<name>_brokers``, ``--<name>_log_level``
    and Roo's ``--<name>_property key=value``. Roo's keyword options as for
    CustomKafkaSourceCLIParser.
    """

    def __init__(self, decoder, name="kafka_source", *, topics=None, group=None, start=None,
                 properties=None):
        self.decoder = decoder
        self.name = name
        self._roo = dict(topics=topics, group=group, start=start, properties=properties)

    def to_tuple(self):
        return _with_roo_options(("kafka-internal", self.name, self.decoder), **self._roo)


class DefaultKafkaSinkCLIParser(object):
    """Kafka sink configured from the app's ``--<name>_*`` flags (read when the app is described).

    The flags: ``--<name>_topic``, ``--<name>_brokers``, ``--<name>_log_level``,
    ``--<name>_max_produce_buffer_ms``, ``--<name>_max_message_size`` and Roo's
    ``--<name>_property key=value``. Roo's keyword options as for
    CustomKafkaSinkCLIParser.
    """

    def __init__(self, encoder, name="kafka_sink", *, properties=None, partitioner=None):
        self.encoder = encoder
        self.name = name
        self._roo = dict(properties=properties, partitioner=partitioner)

    def to_tuple(self):
        return _with_roo_options(("kafka-internal", self.name, self.encoder), **self._roo)


class KafkaSourceConfig(object):
    """G0/G1 Kafka source ``(topic, brokers, log_level, decoder)``.

    ``brokers`` is ``[(host, port)...]``; Roo's keyword options as for
    CustomKafkaSourceCLIParser (``topic`` may then be ``None``: ``topics`` lists them all).
    """

    def __init__(self, topic, brokers, log_level, decoder, *, topics=None, group=None, start=None,
                 properties=None):
        self.topic, self.brokers, self.log_level = topic, brokers, log_level
        self.decoder = decoder
        self._roo = dict(topics=topics, group=group, start=start, properties=properties)

    def to_tuple(self):
        return _with_roo_options(("kafka", "", self.topic, self.brokers, self.log_level,
                                  self.decoder), **self._roo)


class KafkaSinkConfig(object):
    """G0/G1 Kafka sink ``(topic, brokers, log_level, max_produce_buffer_ms, max_message_size, encoder)``.

    Roo's keyword options as for CustomKafkaSinkCLIParser.
    """

    def __init__(self, topic, brokers, log_level, max_produce_buffer_ms,
                 max_message_size, encoder, *, properties=None, partitioner=None):
        self.topic, self.brokers, self.log_level = topic, brokers, log_level
        self.max_produce_buffer_ms = max_produce_buffer_ms
        self.max_message_size = max_message_size
        self.encoder = encoder
        self._roo = dict(properties=properties, partitioner=partitioner)

    def to_tuple(self):
        return _with_roo_options(("kafka", "", self.topic, self.brokers, self.log_level,
                                  self.max_produce_buffer_ms, self.max_message_size,
                                  self.encoder), **self._roo)
