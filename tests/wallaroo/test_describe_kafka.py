"""describe() on Kafka sources and sinks: every Wallaroo form (G2 and G1/G0), Roo's own options, the
app's flags, and the exact error for each bad input."""

import pytest

import wallaroo
from wallaroo import WallarooParameterError
from wallaroo.description import describe


def _decode(value):
    return value.decode()


def _decode_keyed(value, key):
    return (key, value)


def _encode(data):
    return data.encode()


def _upper(data):
    return data.upper()


decode = wallaroo.decoder(header_length=4, length_fmt=">I")(_decode)
decode_keyed = wallaroo.decoder(header_length=4, length_fmt=">I")(_decode_keyed)
encode = wallaroo.encoder(_encode)
upper = wallaroo.computation("upper")(_upper)

BROKERS = [("k1", "9092"), ("k2", 9093)]
TCP_SINK = wallaroo.TCPSinkConfig("127.0.0.1", 7010, encode)
TCP_SOURCE = wallaroo.TCPSourceConfig("in", "127.0.0.1", 7000, decode)


def _g2(source_config, sink_config=TCP_SINK, args=(), pipeline="K"):
    p = wallaroo.source(pipeline, source_config).to(upper).to_sink(sink_config)
    return describe(wallaroo.build_application("app", p), args=list(args))


def _g1(source_config, sink_config=TCP_SINK, args=(), pipeline="K"):
    ab = wallaroo.ApplicationBuilder("app").new_pipeline(pipeline, source_config)
    return describe(ab.to(upper).to_sink(sink_config).build(), args=list(args))


def _source(name="K", topics=("t",), brokers="k1:9092,k2:9093", fn=_decode, **extra):
    entry = {"kind": "kafka", "name": name, "topics": list(topics), "brokers": brokers, "group": None,
             "start": "earliest", "properties": {}, "log_level": "Warn", "decode": fn,
             "decode_takes_key": False, "event_time": None}
    entry.update(extra)
    return entry


def _sink(name="sink 0", topic="out", brokers="k1:9092,k2:9093", fn=_encode, **extra):
    entry = {"kind": "kafka", "name": name, "topic": topic, "brokers": brokers, "properties": {},
             "max_message_size": 100000, "max_produce_buffer_ms": 0, "log_level": "Warn", "encode": fn}
    entry.update(extra)
    return entry


SOURCE_FLAGS = ["--kafka_source_topic", "t", "--kafka_source_brokers", "k1,k2:9093"]
SINK_FLAGS = ["--kafka_sink_topic", "out", "--kafka_sink_brokers", "k1:9092,k2:9093"]


# ---- every Wallaroo form, both API generations ----------------------------------------------

@pytest.mark.parametrize("describe_app", [_g2, _g1])
def test_kafka_source_config(describe_app):
    desc = describe_app(wallaroo.KafkaSourceConfig("t", BROKERS, "Info", decode))
    assert desc["sources"] == [_source(log_level="Info")]
    assert desc["flows"] == [{"source": 0, "stages": [0], "sinks": [0]}]


@pytest.mark.parametrize("describe_app", [_g2, _g1])
def test_custom_kafka_source_cli_parser(describe_app):
    args = SOURCE_FLAGS + ["--kafka_source_log_level", "Error"]
    desc = describe_app(wallaroo.CustomKafkaSourceCLIParser(args, decode), args=args)
    assert desc["sources"] == [_source(log_level="Error")]


def test_custom_kafka_source_name_names_the_source_in_g2_only():
    # As TCPSourceConfig's name: G2 sources take the config's name, G1 sources their pipeline's.
    args = SOURCE_FLAGS + ["--kafka_source_name", "readings"]
    source = wallaroo.CustomKafkaSourceCLIParser(args, decode)
    assert _g2(source)["sources"][0]["name"] == "readings"
    assert _g1(source)["sources"][0]["name"] == "K"


@pytest.mark.parametrize("describe_app", [_g2, _g1])
def test_default_kafka_source_cli_parser_reads_the_flags_of_its_name(describe_app):
    args = ["--in", "x", "--kafka_source_topic", "t", "--kafka_source_brokers", "k1,k2:9093"]
    desc = describe_app(wallaroo.DefaultKafkaSourceCLIParser(decode), args=args)
    assert desc["sources"] == [_source()]
    args = ["--orders_topic", "t", "--orders_brokers", "k1:9092,k2:9093", "--orders_log_level", "Fine",
            "--kafka_source_topic", "not-this-one"]
    desc = describe_app(wallaroo.DefaultKafkaSourceCLIParser(decode, name="orders"), args=args)
    assert desc["sources"] == [_source(log_level="Fine")]


@pytest.mark.parametrize("describe_app", [_g2, _g1])
def test_kafka_sink_config(describe_app):
    sink = wallaroo.KafkaSinkConfig("out", BROKERS, "Error", 5, 2000, encode)
    desc = describe_app(TCP_SOURCE, sink)
    assert desc["sinks"] == [_sink(log_level="Error", max_produce_buffer_ms=5, max_message_size=2000)]


@pytest.mark.parametrize("describe_app", [_g2, _g1])
def test_custom_kafka_sink_cli_parser(describe_app):
    args = SINK_FLAGS + ["--kafka_sink_max_message_size", "77", "--kafka_sink_max_produce_buffer_ms", "20"]
    desc = describe_app(TCP_SOURCE, wallaroo.CustomKafkaSinkCLIParser(args, encode), args=args)
    assert desc["sinks"] == [_sink(max_message_size=77, max_produce_buffer_ms=20)]


@pytest.mark.parametrize("describe_app", [_g2, _g1])
def test_default_kafka_sink_cli_parser_reads_the_flags_of_its_name(describe_app):
    desc = describe_app(TCP_SOURCE, wallaroo.DefaultKafkaSinkCLIParser(encode), args=SINK_FLAGS)
    assert desc["sinks"] == [_sink()]
    args = ["--results_topic", "out", "--results_brokers", "k1:9092,k2:9093", "--results_log_level", "Info",
            "--results_max_message_size", "5000", "--results_max_produce_buffer_ms", "3"]
    desc = describe_app(TCP_SOURCE, wallaroo.DefaultKafkaSinkCLIParser(encode, name="results"), args=args)
    assert desc["sinks"] == [_sink(log_level="Info", max_message_size=5000, max_produce_buffer_ms=3)]


def test_kafka_to_kafka_in_g2_and_to_sinks():
    args = SOURCE_FLAGS + SINK_FLAGS
    p = (wallaroo.source("K", wallaroo.DefaultKafkaSourceCLIParser(decode)).to(upper)
         .to_sinks([wallaroo.DefaultKafkaSinkCLIParser(encode), TCP_SINK]))
    desc = describe(wallaroo.build_application("app", p), args=args)
    assert desc["sources"] == [_source()]
    assert desc["sinks"][0] == _sink()
    assert desc["sinks"][1]["kind"] == "tcp"
    assert desc["flows"] == [{"source": 0, "stages": [0], "sinks": [0, 1]}]


def test_g0_decoder_and_encoder_classes():
    class Decoder(object):
        def decode(self, value):
            return value

    class KeyedDecoder(object):
        def decode(self, value, key):
            return (key, value)

    class Encoder(object):
        def encode(self, data):
            return data

    desc = _g1(wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", Decoder),
               wallaroo.KafkaSinkConfig("out", BROKERS, "Warn", 0, 100000, Encoder()))
    source, sink = desc["sources"][0], desc["sinks"][0]
    assert source["decode"].__func__ is Decoder.decode and source["decode_takes_key"] is False
    assert sink["encode"].__func__ is Encoder.encode
    desc = _g1(wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", KeyedDecoder()))
    assert desc["sources"][0]["decode_takes_key"] is True


def test_flags_come_from_wallaroo_args_when_describe_gets_none(monkeypatch):
    monkeypatch.setattr(wallaroo, "_ARGS", ("roo", "run", "app.py", "--kafka_source_topic", "t",
                                            "--kafka_source_brokers", "k1,k2:9093"))
    p = wallaroo.source("K", wallaroo.DefaultKafkaSourceCLIParser(decode)).to_sink(TCP_SINK)
    assert describe(wallaroo.build_application("app", p))["sources"] == [_source()]


# ---- Roo's own options ------------------------------------------------------------------------

@pytest.mark.parametrize("fn,takes_key", [
    (_decode, False),
    (_decode_keyed, True),
    (lambda value, key=None: value, True),
    (lambda *parts: parts, False),
    (lambda value, *rest: value, False),
])
def test_decode_takes_key_when_the_decoder_names_a_second_parameter(fn, takes_key):
    desc = _g2(wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", wallaroo.decoder()(fn)))
    assert desc["sources"][0]["decode"] is fn
    assert desc["sources"][0]["decode_takes_key"] is takes_key


def test_source_topics_group_start_and_properties():
    source = wallaroo.KafkaSourceConfig("a", BROKERS, "Warn", decode_keyed, topics=["b", "c.d_e-f"],
                                        group="readers", start="latest",
                                        properties={"security.protocol": "SASL_SSL", "fetch.wait.max.ms": 50,
                                                    "enable.partition.eof": False})
    assert _g2(source)["sources"] == [_source(
        topics=["a", "b", "c.d_e-f"], group="readers", start="latest", fn=_decode_keyed, decode_takes_key=True,
        properties={"security.protocol": "SASL_SSL", "fetch.wait.max.ms": "50", "enable.partition.eof": "false"})]


def test_topic_may_be_a_comma_list_or_none_with_topics():
    assert _g2(wallaroo.KafkaSourceConfig("a, b", BROKERS, "Warn", decode))["sources"][0]["topics"] == ["a", "b"]
    source = wallaroo.KafkaSourceConfig(None, BROKERS, "Warn", decode, topics=["x", "y"])
    assert _g2(source)["sources"][0]["topics"] == ["x", "y"]


def test_brokers_may_be_a_string_and_ipv6_hosts_are_bracketed():
    desc = _g2(wallaroo.KafkaSourceConfig("t", "k1, k2:9093", "Warn", decode))
    assert desc["sources"][0]["brokers"] == "k1:9092,k2:9093"
    desc = _g2(wallaroo.KafkaSourceConfig("t", [("::1", "9092")], "Warn", decode))
    assert desc["sources"][0]["brokers"] == "[::1]:9092"


def test_roo_options_ride_after_wallaroos_tuple_only_when_given():
    assert wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", decode).to_tuple() == (
        "kafka", "", "t", BROKERS, "Warn", decode)
    assert wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", decode, group="g").to_tuple() == (
        "kafka", "", "t", BROKERS, "Warn", decode, {"group": "g"})
    assert wallaroo.DefaultKafkaSinkCLIParser(encode, partitioner="murmur2").to_tuple() == (
        "kafka-internal", "kafka_sink", encode, {"partitioner": "murmur2"})


def test_sink_properties_and_partitioner():
    sink = wallaroo.KafkaSinkConfig("out", BROKERS, "Warn", 0, 100000, encode, partitioner="murmur2_random",
                                    properties={"compression.type": "lz4", "partitioner": "random"})
    assert _g2(TCP_SOURCE, sink)["sinks"] == [_sink(
        properties={"compression.type": "lz4", "partitioner": "murmur2_random"})]


def test_property_flags_apply_later_ones_winning():
    # properties= < --kafka-property (every Kafka client) < the source's or sink's own --<prefix>_property.
    args = (SOURCE_FLAGS + SINK_FLAGS +
            ["--kafka-property", "client.id=roo", "--kafka-property=socket.timeout.ms=1000",
             "--kafka_source_property", "client.id=reader", "--kafka_sink_property", "acks=all",
             "--kafka-property", "acks=1"])
    source = wallaroo.CustomKafkaSourceCLIParser(args, decode, properties={"client.id": "code", "a": "b"})
    sink = wallaroo.CustomKafkaSinkCLIParser(args, encode)
    desc = _g2(source, sink, args=args)
    assert desc["sources"][0]["properties"] == {"client.id": "reader", "a": "b", "socket.timeout.ms": "1000",
                                                "acks": "1"}
    assert desc["sinks"][0]["properties"] == {"client.id": "roo", "socket.timeout.ms": "1000", "acks": "all"}


def test_default_parsers_read_their_own_property_flags():
    args = ["--in_topic", "t", "--in_brokers", "k1,k2:9093", "--in_property", "group.id=x",
            "--out_topic", "out", "--out_brokers", "k1,k2:9093", "--out_property", "linger.ms=7",
            "--kafka-property", "debug=broker"]
    desc = _g2(wallaroo.DefaultKafkaSourceCLIParser(decode, name="in"),
               wallaroo.DefaultKafkaSinkCLIParser(encode, name="out"), args=args)
    assert desc["sources"][0]["properties"] == {"debug": "broker", "group.id": "x"}
    assert desc["sinks"][0]["properties"] == {"debug": "broker", "linger.ms": "7"}


def test_kafka_property_flags_reach_kafka_source_config_too():
    desc = _g1(wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", decode),
               args=["--kafka-property", "security.protocol=SSL", "--kafka_source_property", "not=this"])
    assert desc["sources"][0]["properties"] == {"security.protocol": "SSL"}


# ---- bad input: one exact line each -----------------------------------------------------------

WHERE = "pipeline 'K' (source 'K')"


class ThreeParameterDecoder(object):
    def decode(self, value, key, extra):
        return value


@pytest.mark.parametrize("make,message", [
    (lambda: wallaroo.KafkaSourceConfig("", BROKERS, "Warn", decode), WHERE + ": no Kafka topic given"),
    (lambda: wallaroo.KafkaSourceConfig(None, BROKERS, "Warn", decode, topics=[]),
     WHERE + ": no Kafka topic given"),
    (lambda: wallaroo.KafkaSourceConfig(7, BROKERS, "Warn", decode),
     WHERE + ": the Kafka topic must be a str, got 7"),
    (lambda: wallaroo.KafkaSourceConfig("a b", BROKERS, "Warn", decode),
     WHERE + ": 'a b' is not a Kafka topic name (1 to 249 letters, digits, '.', '_' or '-')"),
    (lambda: wallaroo.KafkaSourceConfig("a,,b", BROKERS, "Warn", decode),
     WHERE + ": '' is not a Kafka topic name (1 to 249 letters, digits, '.', '_' or '-')"),
    (lambda: wallaroo.KafkaSourceConfig("..", BROKERS, "Warn", decode),
     WHERE + ": '..' is not a Kafka topic name (1 to 249 letters, digits, '.', '_' or '-')"),
    (lambda: wallaroo.KafkaSourceConfig("x" * 250, BROKERS, "Warn", decode),
     WHERE + ": '" + "x" * 250 + "' is not a Kafka topic name (1 to 249 letters, digits, '.', '_' or '-')"),
    (lambda: wallaroo.KafkaSourceConfig("a", BROKERS, "Warn", decode, topics=["b", "a"]),
     WHERE + ": Kafka topic 'a' is listed twice"),
    (lambda: wallaroo.KafkaSourceConfig("a", BROKERS, "Warn", decode, topics="b"),
     WHERE + ": topics must be a list of topic names, got 'b'"),
    (lambda: wallaroo.KafkaSourceConfig("a", BROKERS, "Warn", decode, topics=["b", 3]),
     WHERE + ": topics must be a list of topic names, got ['b', 3]"),
    (lambda: wallaroo.KafkaSourceConfig("t", [], "Warn", decode), WHERE + ": no Kafka brokers given"),
    (lambda: wallaroo.KafkaSourceConfig("t", "", "Warn", decode), WHERE + ": no Kafka brokers given"),
    (lambda: wallaroo.KafkaSourceConfig("t", None, "Warn", decode),
     WHERE + ": brokers must be a list of (host, port) pairs, got None"),
    (lambda: wallaroo.KafkaSourceConfig("t", [("k1",)], "Warn", decode),
     WHERE + ": Kafka broker ('k1',) must be a (host, port) pair"),
    (lambda: wallaroo.KafkaSourceConfig("t", [("k1", "9092"), ("", "9092")], "Warn", decode),
     WHERE + ": Kafka broker ('', '9092'): the host must be a non-empty str"),
    (lambda: wallaroo.KafkaSourceConfig("t", [("k1", "http")], "Warn", decode),
     WHERE + ": Kafka broker ('k1', 'http'): the port must be an integer 1..65535, got 'http'"),
    (lambda: wallaroo.KafkaSourceConfig("t", [("k1", 0)], "Warn", decode),
     WHERE + ": Kafka broker ('k1', 0): the port must be an integer 1..65535, got 0"),
    (lambda: wallaroo.KafkaSourceConfig("t", BROKERS, "Loud", decode),
     WHERE + ": log_level must be one of 'Fine', 'Info', 'Warn', 'Error', got 'Loud'"),
    (lambda: wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", decode, start="middle"),
     WHERE + ": start must be 'earliest' or 'latest', got 'middle'"),
    (lambda: wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", decode, group=""),
     WHERE + ": group must be a non-empty str, got ''"),
    (lambda: wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", decode, group=5),
     WHERE + ": group must be a non-empty str, got 5"),
    (lambda: wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", decode, properties=["a=b"]),
     WHERE + ": properties must be a dict of librdkafka properties, got ['a=b']"),
    (lambda: wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", decode, properties={"a": None}),
     WHERE + ": Kafka property 'a' must have a str, int or bool value, got None"),
    (lambda: wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", decode, properties={"": "x"}),
     WHERE + ": a Kafka property name must be a non-empty str, got ''"),
    (lambda: wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", ThreeParameterDecoder()),
     WHERE + " decoder: decode must take (value) or (value, key), <bound method ThreeParameterDecoder.decode of "
     "<test_describe_kafka.ThreeParameterDecoder object at 0x"),
    (lambda: wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", object()),
     WHERE + " decoder: <object object at 0x"),
    (lambda: wallaroo.DefaultKafkaSourceCLIParser(decode),
     WHERE + ": no Kafka topic given (pass --kafka_source_topic)"),
    (lambda: wallaroo.DefaultKafkaSourceCLIParser(decode, name="my source"),
     "pipeline 'K': the Kafka flag prefix 'my source' (the parser's name) must be letters, digits, '_' or '-'"),
])
def test_bad_source_exact_error(make, message):
    with pytest.raises(WallarooParameterError) as e:
        _g2(make())
    if message.endswith("0x"):
        assert str(e.value).startswith(message)
    else:
        assert str(e.value) == message


def test_default_parser_names_the_missing_flag():
    with pytest.raises(WallarooParameterError) as e:
        _g2(wallaroo.DefaultKafkaSourceCLIParser(decode, name="orders"), args=["--orders_topic", "t"])
    assert str(e.value) == WHERE + ": no Kafka brokers given (pass --orders_brokers)"
    with pytest.raises(WallarooParameterError) as e:
        _g1(TCP_SOURCE, wallaroo.DefaultKafkaSinkCLIParser(encode), args=["--kafka_sink_brokers", "k"])
    assert str(e.value) == "pipeline 'K', to_sink (sink 0): no Kafka topic given (pass --kafka_sink_topic)"


SINK_WHERE = "pipeline 'K', stage 2 (to_sink) (sink 0)"


@pytest.mark.parametrize("make,message", [
    (lambda: wallaroo.KafkaSinkConfig("", BROKERS, "Warn", 0, 100, encode), SINK_WHERE + ": no Kafka topic given"),
    (lambda: wallaroo.KafkaSinkConfig("a,b", BROKERS, "Warn", 0, 100, encode),
     SINK_WHERE + ": a Kafka sink writes one topic, got 'a,b'"),
    (lambda: wallaroo.KafkaSinkConfig("o", BROKERS, "Warn", -1, 100, encode),
     SINK_WHERE + ": max_produce_buffer_ms must be an integer 0..900000, got -1"),
    (lambda: wallaroo.KafkaSinkConfig("o", BROKERS, "Warn", 0, 0, encode),
     SINK_WHERE + ": max_message_size must be an integer 1..1000000000, got 0"),
    (lambda: wallaroo.KafkaSinkConfig("o", BROKERS, "Warn", 0, "big", encode),
     SINK_WHERE + ": max_message_size must be an integer 1..1000000000, got 'big'"),
    (lambda: wallaroo.KafkaSinkConfig("o", BROKERS, "Warn", 0, 100, encode, partitioner="hash"),
     SINK_WHERE + ": partitioner must be one of librdkafka's (random, consistent, consistent_random, murmur2, "
     "murmur2_random, fnv1a, fnv1a_random), got 'hash'"),
    (lambda: wallaroo.KafkaSinkConfig("o", [], "Warn", 0, 100, encode), SINK_WHERE + ": no Kafka brokers given"),
    (lambda: wallaroo.KafkaSinkConfig("o", BROKERS, "Warn", 0, 100, object()),
     SINK_WHERE + " encoder: <object object at 0x"),
])
def test_bad_sink_exact_error(make, message):
    with pytest.raises(WallarooParameterError) as e:
        _g2(TCP_SOURCE, make())
    if message.endswith("0x"):
        assert str(e.value).startswith(message)
    else:
        assert str(e.value) == message


@pytest.mark.parametrize("config,message", [
    (("kafka", "", "t", BROKERS, "Warn"), "unrecognised Kafka source tuple ('kafka', '', 't', "
                                          "[('k1', '9092'), ('k2', 9093)], 'Warn')"),
    (("kafka", "", "t", BROKERS, "Warn", decode, ["x"]),
     "expected a dict of Roo's Kafka options after the Wallaroo fields, got ['x']"),
    (("kafka", "", "t", BROKERS, "Warn", decode, {"partitioner": "random"}),
     "unknown Kafka option 'partitioner' (Roo's are: topics, group, start, properties)"),
    (("kafka-internal", "", decode), "unrecognised Kafka tuple ('kafka-internal', '', " + repr(decode) + ")"),
])
def test_bad_raw_source_tuples(config, message):
    with pytest.raises(WallarooParameterError) as e:
        describe([("name", "app"), ("new_pipeline", "K", config), ("to_sink", TCP_SINK.to_tuple())])
    assert str(e.value) == "pipeline 'K': " + message


@pytest.mark.parametrize("args,message", [
    (["--kafka-property", "novalue"],
     "bad --kafka-property value 'novalue': expected key=value (a librdkafka property, e.g. "
     "security.protocol=SASL_SSL)"),
    (["--kafka-property", "=x"],
     "bad --kafka-property value '=x': expected key=value (a librdkafka property, e.g. "
     "security.protocol=SASL_SSL)"),
])
def test_bad_kafka_property_flag(args, message):
    with pytest.raises(WallarooParameterError) as e:
        _g2(wallaroo.KafkaSourceConfig("t", BROKERS, "Warn", decode), args=args)
    assert str(e.value) == message


def test_bad_prefixed_flags_are_application_flag_errors():
    with pytest.raises(WallarooParameterError) as e:
        _g2(wallaroo.DefaultKafkaSourceCLIParser(decode), args=["--kafka_source_log_level", "Loud"])
    assert str(e.value) == ("bad application flags: argument --kafka_source_log_level: invalid choice: "
                            "'Loud' (choose from 'Fine', 'Info', 'Warn', 'Error')")
    with pytest.raises(WallarooParameterError) as e:
        _g2(TCP_SOURCE, wallaroo.DefaultKafkaSinkCLIParser(encode, name="o"),
            args=["--o_max_message_size", "big"])
    assert str(e.value) == ("bad application flags: argument --o_max_message_size: invalid int value: 'big'")
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.CustomKafkaSinkCLIParser(["--kafka_sink_property", "x"], encode)
    assert str(e.value).startswith("bad --kafka_sink_property value 'x': expected key=value")


def test_decorated_decoder_takes_one_or_two_parameters():
    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.decoder()
        def three(value, key, extra):
            return value
    assert str(e.value) == ("Incompatible function arity, your function three must have 1 parameter (value) "
                            "or 2 (value, key).")


def test_describe_args_must_be_strings():
    with pytest.raises(WallarooParameterError) as e:
        describe(wallaroo.build_application("app", wallaroo.source("K", TCP_SOURCE).to_sink(TCP_SINK)),
                 args="--kafka_source_topic t")
    assert str(e.value) == "describe(): args must be a list of str (the app's flags), got '--kafka_source_topic t'"


def test_a_key_taking_decoder_is_refused_by_tcp_sources():
    with pytest.raises(WallarooParameterError) as e:
        _g2(wallaroo.TCPSourceConfig("in", "127.0.0.1", 7000, decode_keyed))
    assert str(e.value).startswith(
        "pipeline 'K' (source 'in') decoder: <function _decode_keyed at 0x")
    assert str(e.value).endswith(
        "> takes (value, key), but only a Kafka source passes a key; this source's decoder takes (value)")
