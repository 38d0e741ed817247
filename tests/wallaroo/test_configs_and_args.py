"""Source/sink configs (both TCPSourceConfig forms) and the flag parsers."""

import pytest

import wallaroo
from wallaroo import WallarooParameterError


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(bs):
    return bs


@wallaroo.encoder
def encode(data):
    return data


class Gen(object):
    def initial_value(self):
        return 0

    def apply(self, v):
        return v + 1


def test_tcp_source_config_new_form_defaults_and_tuple():
    cfg = wallaroo.TCPSourceConfig("in", "127.0.0.1", "7000", decode)
    assert cfg.to_tuple() == ("tcp", "in", "127.0.0.1", "7000", decode, True, 10, 16384, 50)


def test_tcp_source_config_new_form_all_arguments():
    cfg = wallaroo.TCPSourceConfig("in", "h", 7000, decode, False, 3, 100, 7)
    assert cfg.to_tuple() == ("tcp", "in", "h", 7000, decode, False, 3, 100, 7)
    kw = wallaroo.TCPSourceConfig("in", "h", 7000, decoder=decode, parallelism=2, max_size=64)
    assert kw.to_tuple() == ("tcp", "in", "h", 7000, decode, True, 2, 64, 50)
    named = wallaroo.TCPSourceConfig(name="in", host="h", port=1, decoder=decode)
    assert named.to_tuple() == ("tcp", "in", "h", 1, decode, True, 10, 16384, 50)


def test_tcp_source_config_old_form():
    cfg = wallaroo.TCPSourceConfig("127.0.0.1", 7000, decode)
    assert cfg.to_tuple() == ("tcp", "127.0.0.1", 7000, decode)
    kw = wallaroo.TCPSourceConfig(host="h", port="1", decoder=decode)
    assert kw.to_tuple() == ("tcp", "h", "1", decode)


def test_tcp_source_config_bad_arguments():
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.TCPSourceConfig("h", 1)
    assert str(e.value).startswith(
        "TCPSourceConfig takes (name, host, port, decoder, valid=True, parallelism=10, "
        "max_size=16384, max_received_count=50) or (host, port, decoder): ")
    with pytest.raises(WallarooParameterError):
        wallaroo.TCPSourceConfig("h", 1, decode, bogus=1)


def test_gen_source_config_both_forms():
    g = Gen()
    assert wallaroo.GenSourceConfig("gen", g).to_tuple() == ("gen", "gen", g)
    assert wallaroo.GenSourceConfig(g).to_tuple() == ("gen", g)
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.GenSourceConfig()
    assert str(e.value) == "GenSourceConfig takes (name, generator) or (generator), got 0 arguments"


def test_tcp_sink_config_tuple():
    assert wallaroo.TCPSinkConfig("h", 5, encode).to_tuple() == ("tcp", "", "h", 5, encode)


def test_kafka_configs_tuples():
    args = ["--kafka_source_topic", "t", "--kafka_source_brokers", "b1:9000,b2",
            "--kafka_source_name", "ks", "--kafka_sink_topic", "o",
            "--kafka_sink_brokers", "b3", "--kafka_sink_max_message_size", "77"]
    src = wallaroo.CustomKafkaSourceCLIParser(args, decode)
    assert src.to_tuple() == ("kafka", "ks", "t", [("b1", "9000"), ("b2", "9092")], "Warn", decode)
    sink = wallaroo.CustomKafkaSinkCLIParser(args, encode)
    assert sink.to_tuple() == ("kafka", "", "o", [("b3", "9092")], "Warn", 0, 77, encode)
    assert wallaroo.DefaultKafkaSourceCLIParser(decode).to_tuple() == (
        "kafka-internal", "kafka_source", decode)
    assert wallaroo.DefaultKafkaSinkCLIParser(encode, name="out").to_tuple() == (
        "kafka-internal", "out", encode)


def test_kafka_bad_log_level_does_not_exit():
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.kafka_parse_source_options(["--kafka_source_log_level", "Loud"])
    assert str(e.value).startswith("bad application flags: argument --kafka_source_log_level")


def test_parse_input_named_and_bare_addresses():
    args = ["--app-flag", "x", "--in", "votes@127.0.0.1:7000,127.0.0.1:7001", "-o", "h:1"]
    assert wallaroo.tcp_parse_input_addrs(args) == [
        ("votes", "127.0.0.1", "7000"), ("127.0.0.1", "7001")]
    assert wallaroo.tcp_parse_input_addrs(("-i", "a@h:1")) == [("a", "h", "1")]
    assert wallaroo.tcp_parse_input_addrs(["--in=h:2"]) == [("h", "2")]
    assert wallaroo.tcp_parse_input_addrs(["--in", "v6@[::1]:9"]) == [("v6", "::1", "9")]


def test_parse_output_addresses():
    args = ["--in", "a@h:1", "--out", "127.0.0.1:7002,localhost:7003", "--other"]
    assert wallaroo.tcp_parse_output_addrs(args) == [("127.0.0.1", "7002"), ("localhost", "7003")]
    assert wallaroo.tcp_parse_output_addrs(["-o", "h:5"]) == [("h", "5")]


def test_parse_missing_flags_raise_instead_of_exiting():
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.tcp_parse_input_addrs(["--out", "h:1"])
    assert str(e.value) == ("missing --in (-i): this application needs its input addresses, "
                            "e.g. --in my_source@127.0.0.1:7000")
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.tcp_parse_output_addrs(["--in", "a@h:1"])
    assert str(e.value) == ("missing --out (-o): this application needs its output addresses, "
                            "e.g. --out 127.0.0.1:7002")
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.tcp_parse_input_addrs(["--in"])
    assert str(e.value) == "bad application flags: argument -i/--in: expected one argument"
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.tcp_parse_input_addrs(None)
    assert str(e.value).startswith("missing --in: no argument list given")


def test_parse_help_flag_is_not_swallowed():
    assert wallaroo.tcp_parse_input_addrs(["-h", "--in", "h:1"]) == [("h", "1")]


@pytest.mark.parametrize("value,message", [
    ("h", "bad --in address 'h': expected name@host:port or host:port"),
    ("a@h:", "bad --in address 'h:': expected name@host:port or host:port"),
    ("@h:1", "bad --in address '@h:1': empty source name before '@'"),
    ("a@h:1,", "bad --in value 'a@h:1,': expected name@host:port or host:port[,...]"),
    ("", "bad --in value '': expected name@host:port or host:port[,...]"),
])
def test_parse_bad_input_values(value, message):
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.tcp_parse_input_addrs(["--in", value])
    assert str(e.value) == message
