"""Decorators: arity validation, generated class names, duck-typed methods, pickling."""

import pickle
import re
import struct

import pytest

import wallaroo
from wallaroo import WallarooParameterError


def _counter_of(obj):
    return int(re.match(r"^[A-Za-z]+_(\d+)__", type(obj).__name__).group(1))


class State(object):
    def __init__(self):
        self.n = 0


def test_computation_class_name_counter_and_injection():
    @wallaroo.computation(name="first")
    def alpha(data):
        return data

    @wallaroo.computation(name="second")
    def beta(data):
        return data

    n = _counter_of(alpha)
    assert type(alpha).__name__ == "Computation_{0}__alpha".format(n)
    assert type(beta).__name__ == "Computation_{0}__beta".format(n + 1)
    assert type(alpha).__qualname__ == type(alpha).__name__
    assert type(alpha).__module__ == "wallaroo"
    assert getattr(wallaroo, type(alpha).__name__) is type(alpha)
    assert getattr(wallaroo, type(beta).__name__) is type(beta)


def test_counters_are_per_base_class():
    @wallaroo.computation_multi(name="m")
    def gamma(data):
        return [data]

    before = _counter_of(gamma)

    @wallaroo.computation(name="c")
    def delta(data):
        return data

    @wallaroo.computation_multi(name="m2")
    def epsilon(data):
        return [data]

    assert type(epsilon).__name__ == "ComputationMulti_{0}__epsilon".format(before + 1)
    assert type(delta).__name__.startswith("Computation_")


@pytest.mark.parametrize("decorate,base", [
    (lambda f: wallaroo.computation("n")(f), "Computation"),
    (lambda f: wallaroo.computation_multi("n")(f), "ComputationMulti"),
    (lambda f: wallaroo.key_extractor(f), "KeyExtractor"),
    (lambda f: wallaroo.partition(f), "PartitionFunction"),
    (lambda f: wallaroo.decoder(header_length=4, length_fmt=">I")(f), "OctetDecoder"),
    (lambda f: wallaroo.encoder(f), "OctetEncoder"),
])
def test_one_argument_decorators_names(decorate, base):
    def user_fn(data):
        return data
    obj = decorate(user_fn)
    assert re.fullmatch(base + r"_\d+__user_fn", type(obj).__name__)
    assert obj._roo_fn is user_fn


@pytest.mark.parametrize("decorate,base", [
    (lambda f: wallaroo.state_computation("s", State)(f), "StateComputation"),
    (lambda f: wallaroo.state_computation_multi("s", State)(f), "StateComputationMulti"),
    (lambda f: wallaroo.state_computation("s")(f), "StateComputation"),
    (lambda f: wallaroo.state_computation_multi("s")(f), "StateComputationMulti"),
])
def test_state_decorators_names(decorate, base):
    def user_fn(data, state):
        return data
    obj = decorate(user_fn)
    assert re.fullmatch(base + r"_\d+__user_fn", type(obj).__name__)
    assert obj._roo_fn is user_fn


def test_computation_arity_errors_exact_text():
    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.computation(name="adder")
        def add(a, b):
            return a + b
    assert str(e.value) == "Incompatible function arity, your function adder must have 1 parameter."

    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.computation_multi(name="none")
        def nothing():
            return []
    assert str(e.value) == "Incompatible function arity, your function none must have 1 parameter."

    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.state_computation(name="count", state=State)
        def count(data):
            return data
    assert str(e.value) == "Incompatible function arity, your function count must have 2 parameters."

    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.state_computation_multi("count multi")
        def count_multi(data, state, extra):
            return [data]
    assert str(e.value) == ("Incompatible function arity, your function count multi "
                            "must have 2 parameters.")


def test_arity_accepts_defaults_and_varargs():
    @wallaroo.computation(name="defaults")
    def with_default(data, extra=1):
        return data

    @wallaroo.computation(name="varargs")
    def with_varargs(*args):
        return args[0]

    @wallaroo.state_computation(name="s", state=State)
    def st(data, state=None, more=2):
        return data

    assert with_default.compute(3) == 3
    assert with_varargs.compute(4) == 4
    assert st.compute(5, State()) == 5


def test_arity_rejects_required_keyword_only():
    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.computation(name="kw")
        def kw(data, *, must):
            return data
    assert str(e.value) == "Incompatible function arity, your function kw must have 1 parameter."


def test_key_extractor_decoder_encoder_arity_use_function_name():
    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.key_extractor
        def two_keys(a, b):
            return a
    assert str(e.value) == "Incompatible function arity, your function two_keys must have 1 parameter."
    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.decoder(header_length=4, length_fmt=">I")
        def dec():
            return None
    assert str(e.value) == ("Incompatible function arity, your function dec must have 1 parameter (value) "
                            "or 2 (value, key).")
    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.encoder
        def enc(a, b):
            return b""
    assert str(e.value) == "Incompatible function arity, your function enc must have 1 parameter."
    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.partition
        def part():
            return "k"
    assert str(e.value) == "Incompatible function arity, your function part must have 1 parameter."


def test_not_callable_is_rejected():
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.computation(name="x")(42)
    assert str(e.value) == "Expected a callable object but got a 42 for x"


def test_missing_name_is_a_clear_error():
    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.computation
        def oops(data):
            return data
    assert str(e.value).startswith(
        '@wallaroo.computation needs a name: write @wallaroo.computation("my name")')
    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.decoder
        def oops2(bs):
            return bs
    assert str(e.value).startswith("@wallaroo.decoder needs arguments")


def test_state_class_must_be_callable():
    with pytest.raises(WallarooParameterError) as e:
        wallaroo.state_computation("s", state=5)
    assert "state must be a class" in str(e.value)


def test_duck_typed_methods():
    @wallaroo.computation(name="double")
    def double(data):
        return data * 2

    @wallaroo.computation_multi(name="split")
    def split(data):
        return data.split()

    @wallaroo.state_computation(name="count", state=State)
    def count(data, state):
        state.n += 1
        return state.n

    @wallaroo.state_computation_multi(name="count multi", state=State)
    def count_multi(data, state):
        state.n += len(data)
        return [state.n]

    assert double.name() == "double" and double.compute(21) == 42
    assert not hasattr(double, "compute_multi")
    assert split.name() == "split" and split.compute_multi("a b") == ["a", "b"]
    assert not hasattr(split, "compute")
    s = count.initial_state()
    assert isinstance(s, State)
    assert count.compute("x", s) == 1 and count.compute("y", s) == 2
    assert count_multi.compute_multi("abc", count_multi.initial_state()) == [3]
    assert not hasattr(count_multi, "compute")
    assert isinstance(count, wallaroo.StateComputation)
    assert isinstance(count_multi, wallaroo.ComputationMulti)


def test_g1_state_computation_has_no_state_class():
    @wallaroo.state_computation(name="g1 count")
    def g1_count(data, state):
        return (data, True)

    assert g1_count._roo_state_cls is None
    assert not hasattr(g1_count, "initial_state")
    assert g1_count.compute(1, None) == (1, True)


def test_key_extractor_int_becomes_chr_partition_does_not():
    @wallaroo.key_extractor
    def first_byte(data):
        return data[0]

    @wallaroo.partition
    def first_byte_partition(data):
        return data[0]

    assert first_byte.extract_key(b"ab") == "a"
    assert first_byte.extract_key(["key"]) == "key"
    assert first_byte_partition.partition(b"ab") == 97
    assert first_byte_partition.extract_key(b"ab") == 97


def test_decoder_and_encoder_methods():
    @wallaroo.decoder(header_length=2, length_fmt=">H")
    def dec(bs):
        return bs.decode()

    @wallaroo.encoder
    def enc(data):
        return (data + "\n").encode()

    assert dec.header_length() == 2
    assert dec.payload_length(struct.pack(">H", 300)) == 300
    assert dec.decode(b"hi") == "hi"
    assert enc.encode("x") == b"x\n"


def test_decoder_defaults_are_the_documented_ones():
    @wallaroo.decoder()
    def dec(bs):
        return bs

    assert dec.header_length() == 4
    assert dec.payload_length(b"\x00\x00\x01\x00") == 256


@pytest.mark.parametrize("header_length,length_fmt,message", [
    (2, ">I", "decoder d: length_fmt '>I' reads 4 bytes but header_length is 2"),
    (4, ">II", "decoder d: length_fmt '>II' must be one integer struct code (e.g. '>I')"),
    (4, ">f", "decoder d: length_fmt '>f' must be one integer struct code (e.g. '>I')"),
    ("4", ">I", "decoder d: header_length must be an int, got '4'"),
    (4, ">HH", "decoder d: length_fmt '>HH' must be one integer struct code (e.g. '>I')"),
    (4, "", "decoder d: length_fmt '' must be one integer struct code (e.g. '>I')"),
    (3, "@xH", "decoder d: length_fmt '@xH' reads 4 bytes but header_length is 3"),
])
def test_decoder_format_is_checked_at_decoration(header_length, length_fmt, message):
    with pytest.raises(WallarooParameterError) as e:
        @wallaroo.decoder(header_length=header_length, length_fmt=length_fmt)
        def d(bs):
            return bs
    assert str(e.value) == message


def test_decorated_objects_pickle_by_class_name():
    @wallaroo.computation(name="local")
    def local(data):
        return data + 1

    @wallaroo.state_computation(name="st", state=State)
    def st(data, state):
        return data

    @wallaroo.key_extractor
    def key(data):
        return str(data)

    for obj in (local, st, key):
        copy = pickle.loads(pickle.dumps(obj))
        assert type(copy) is type(obj)
        assert copy.__dict__ == {}
    assert pickle.loads(pickle.dumps(local)).compute(1) == 2
    assert b"wallaroo" in pickle.dumps(local)


def test_calling_a_wrapped_object_returns_itself():
    @wallaroo.computation(name="c")
    def c(data):
        return data
    assert c() is c
