"""ApplicationBuilder (G1 decorators, G0 classes): build() validation and describe()."""

import pytest

import wallaroo
from wallaroo import WallarooParameterError
from wallaroo.description import describe


def _decode_customer(bs):
    return ("customer", bs.decode())


def _decode_tx(bs):
    return ("tx", bs.decode())


def _encode(data):
    return repr(data).encode()


def _by_customer(data):
    return data[1]


class Customers(object):
    def __init__(self):
        self.known = set()


def _add_customer(data, state):
    state.known.add(data[1])
    return (None, True)


def _check_tx(data, state):
    return (data if data[1] in state.known else None, False)


decode_customer = wallaroo.decoder(header_length=4, length_fmt=">I")(_decode_customer)
decode_tx = wallaroo.decoder(header_length=4, length_fmt=">I")(_decode_tx)
encode = wallaroo.encoder(_encode)
by_customer = wallaroo.partition(_by_customer)
add_customer = wallaroo.state_computation(name="add customer")(_add_customer)
check_tx = wallaroo.state_computation(name="check transaction")(_check_tx)


def _loyalty():
    ab = wallaroo.ApplicationBuilder("Loyalty")
    ab.new_pipeline("Loyalty Customers",
                    wallaroo.TCPSourceConfig("127.0.0.1", "7000", decode_customer))
    ab.to_state_partition(add_customer, Customers, "customers", by_customer)
    ab.to_sink(wallaroo.TCPSinkConfig("127.0.0.1", "7010", encode))
    ab.done()
    ab.new_pipeline("Transactions", wallaroo.TCPSourceConfig("127.0.0.1", 7001, decode_tx))
    ab.to_state_partition(check_tx, Customers, "customers", by_customer, ["a", "b"])
    ab.to_sink(wallaroo.TCPSinkConfig("127.0.0.1", 7011, encode))
    return ab.build()


def _src(name, port, decode):
    return {"kind": "tcp", "name": name, "host": "127.0.0.1", "port": port,
            "max_size": 16384, "parallelism": 10, "valid": True, "header_length": 4,
            "length_fmt": ">I", "decode": decode, "event_time": None}


def test_build_returns_the_action_list():
    actions = _loyalty()
    assert [a[0] for a in actions] == ["name", "new_pipeline", "to_state_partition", "to_sink",
                                       "done", "new_pipeline", "to_state_partition", "to_sink"]
    assert actions[0] == ("name", "Loyalty")
    assert actions[1] == ("new_pipeline", "Loyalty Customers",
                          ("tcp", "127.0.0.1", "7000", decode_customer))
    _, comp, builder, state_name, pfn, keys = actions[2]
    assert (comp, state_name, pfn, keys) == (add_customer, "customers", by_customer, [])
    assert isinstance(builder, wallaroo.StateBuilder) and builder.state_cls is Customers
    assert isinstance(builder.build(), Customers)
    assert actions[6][5] == ["a", "b"]


def test_loyalty_join_two_sources_share_one_state_partition():
    d = describe(_loyalty())
    key_stage = {"kind": "key_by", "name": "_by_customer", "fn": _by_customer,
                 "int_as_chr": False}
    assert d == {
        "app_name": "Loyalty",
        "sources": [_src("Loyalty Customers", 7000, _decode_customer),
                    _src("Transactions", 7001, _decode_tx)],
        "stages": [
            key_stage,
            {"kind": "state", "name": "add customer", "fn": _add_customer, "multi": False,
             "state_name": "customers", "state_id": "customers", "state_factory": Customers, "returns_persist": True},
            key_stage,
            {"kind": "state", "name": "check transaction", "fn": _check_tx, "multi": False,
             "state_name": "customers", "state_id": "customers", "state_factory": Customers, "returns_persist": True},
        ],
        "sinks": [
            {"kind": "tcp", "name": "sink 0", "host": "127.0.0.1", "port": 7010, "encode": _encode},
            {"kind": "tcp", "name": "sink 1", "host": "127.0.0.1", "port": 7011, "encode": _encode},
        ],
        "flows": [{"source": 0, "stages": [0, 1], "sinks": [0]},
                  {"source": 1, "stages": [2, 3], "sinks": [1]}],
        "serialize": None, "deserialize": None,
    }


def _double(data):
    return data * 2


def _split(data, state):
    state.append(data)
    return ([data, data], True)


double = wallaroo.computation(name="double")(_double)
split_state = wallaroo.state_computation_multi(name="split")(_split)


def test_to_parallel_to_stateful_and_to_sinks():
    ab = wallaroo.ApplicationBuilder("app")
    ab.new_pipeline("p", wallaroo.TCPSourceConfig("h", 1, decode_tx))
    ab.to(double).to_parallel(double).to_stateful(split_state, list, "log")
    ab.to_sinks([wallaroo.TCPSinkConfig("h", 2, encode), wallaroo.TCPSinkConfig("h", 3, encode)])
    d = describe(ab.build())
    assert d["stages"] == [
        {"kind": "computation", "name": "double", "fn": _double, "multi": False},
        {"kind": "computation", "name": "double", "fn": _double, "multi": False},
        {"kind": "collect", "name": "collect", "key": "stateful-log"},
        {"kind": "state", "name": "split", "fn": _split, "multi": True, "state_name": "log", "state_id": "log",
         "state_factory": list, "returns_persist": True},
    ]
    assert [s["name"] for s in d["sinks"]] == ["sink 0", "sink 1"]
    assert d["flows"] == [{"source": 0, "stages": [0, 1, 2, 3], "sinks": [0, 1]}]


def test_gen_source_in_g1_is_named_by_pipeline():
    class Gen(object):
        def initial_value(self):
            return 0

        def apply(self, v):
            return None
    ab = wallaroo.ApplicationBuilder("app").new_pipeline("numbers", wallaroo.GenSourceConfig(Gen()))
    d = describe(ab.to_sink(wallaroo.TCPSinkConfig("h", 2, encode)).build())
    assert d["sources"][0]["name"] == "numbers" and d["sources"][0]["kind"] == "gen"


def test_pipeline_without_sink_has_an_empty_sink_list():
    ab = wallaroo.ApplicationBuilder("app")
    ab.new_pipeline("quiet", wallaroo.TCPSourceConfig("h", 1, decode_tx)).to(double).done()
    ab.new_pipeline("loud", wallaroo.TCPSourceConfig("h", 2, decode_tx))
    ab.to_sink(wallaroo.TCPSinkConfig("h", 3, encode))
    d = describe(ab.build())
    assert d["flows"] == [{"source": 0, "stages": [0], "sinks": []},
                          {"source": 1, "stages": [], "sinks": [0]}]


def _builder():
    return wallaroo.ApplicationBuilder("app")


SRC = wallaroo.TCPSourceConfig("h", 1, decode_tx)
SINK = wallaroo.TCPSinkConfig("h", 2, encode)


@pytest.mark.parametrize("make,message", [
    (lambda: _builder().new_pipeline("p", SRC).to(double),
     "At least one pipeline must define a sink"),
    (lambda: _builder().to(double),
     "Please declare a new pipeline before adding computation steps."),
    (lambda: _builder().new_pipeline("p", SRC).to_sink(SINK).to(double),
     "Unable to add a computation step after a sink. Please declare a new pipeline first."),
    (lambda: _builder().new_pipeline("p", SRC).to_sink(SINK).done().new_pipeline("p", SRC)
     .to_sink(SINK),
     "A pipeline named 'p' is defined more than once. Please use unique names for your pipelines."),
    (lambda: _builder().new_pipeline("p", SRC).to_stateful(add_customer, Customers, "s")
     .to_stateful(check_tx, list, "s").to_sink(SINK),
     "A state with the name 's' has already been defined with a different type "
     "<class 'test_describe_g1.Customers'>, instead of <class 'list'>."),
    (lambda: _builder().new_pipeline("p", SRC).to_stateful(add_customer, Customers, "s")
     .to_state_partition(check_tx, Customers, "s", by_customer).to_sink(SINK),
     "A state with the name 's' is used both by to_stateful and by to_state_partition."),
    (lambda: _builder().new_pipeline("p", SRC)
     .to_state_partition(check_tx, Customers, "s", double).to_sink(SINK),
     "Partition function is missing partition method. Did you forget to use the "
     "@wallaroo.partition decorator?"),
    (lambda: _builder().new_pipeline("p", SRC)
     .to_state_partition(check_tx, Customers, "s", by_customer, ("a",)).to_sink(SINK),
     "Partitions lists should be of type list. Got a <class 'tuple'> instead."),
])
def test_build_validation(make, message):
    ab = make()
    with pytest.raises(WallarooParameterError) as e:
        ab.build()
    assert str(e.value) == message
    with pytest.raises(WallarooParameterError) as e:
        describe(ab._actions)  # describe validates hand-made lists the same way
    assert str(e.value) == message


def test_stateless_computation_given_as_state_is_an_error_and_vice_versa():
    ab = _builder().new_pipeline("p", SRC).to(add_customer).to_sink(SINK)
    with pytest.raises(WallarooParameterError) as e:
        describe(ab.build())
    assert str(e.value) == ("pipeline 'p', to: 'add customer' is a state computation; "
                            "use it where state is given")


# ---- G0: user classes instead of decorators ------------------------------------------

class Decoder(object):
    def header_length(self):
        return 2

    def payload_length(self, bs):
        return bs[0] * 256 + bs[1]

    def decode(self, bs):
        return bs


class Encoder(object):
    def encode(self, data):
        return bytes(data)


class Reverse(object):
    def name(self):
        return "reverse"

    def compute(self, data):
        return data[::-1]


class Explode(object):
    def name(self):
        return "explode"

    def compute_multi(self, data):
        return list(data)


class Tally(object):
    def name(self):
        return "tally"

    def compute(self, data, state):
        state.append(data)
        return (len(state), True)


class TallyBuilder(object):
    def build(self):
        return []


class FirstByte(object):
    def partition(self, data):
        return data[0]


def test_g0_classes():
    decoder, encoder, tally = Decoder(), Encoder(), Tally()
    builder, part = TallyBuilder(), FirstByte()
    ab = wallaroo.ApplicationBuilder("g0")
    ab.new_pipeline("bytes", wallaroo.TCPSourceConfig("h", 1, decoder))
    ab.to(Reverse).to_parallel(Explode)
    ab.to_stateful(tally, builder, "tally")
    ab.to_state_partition(tally, builder, "tally by byte", part, [0, 1])
    ab.to_sink(wallaroo.TCPSinkConfig("h", 2, encoder))
    actions = ab.build()
    assert isinstance(actions[2][1], Reverse) and isinstance(actions[3][1], Explode)
    d = describe(actions)
    src = d["sources"][0]
    assert (src["header_length"], src["length_fmt"], src["decode"]) == (2, ">H", decoder.decode)
    reverse = actions[2][1]
    explode = actions[3][1]
    assert d["stages"] == [
        {"kind": "computation", "name": "reverse", "fn": reverse.compute, "multi": False},
        {"kind": "computation", "name": "explode", "fn": explode.compute_multi, "multi": True},
        {"kind": "collect", "name": "collect", "key": "stateful-tally"},
        {"kind": "state", "name": "tally", "fn": tally.compute, "multi": False,
         "state_name": "tally", "state_id": "tally", "state_factory": builder.build, "returns_persist": True},
        {"kind": "key_by", "name": "FirstByte", "fn": part.partition, "int_as_chr": False},
        {"kind": "state", "name": "tally", "fn": tally.compute, "multi": False,
         "state_name": "tally by byte", "state_id": "tally by byte", "state_factory": builder.build,
         "returns_persist": True},
    ]
    assert d["sinks"][0]["encode"] == encoder.encode
    assert d["stages"][0]["fn"].__self__ is reverse
