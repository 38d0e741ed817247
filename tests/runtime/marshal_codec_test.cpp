// MarshalCodec: built-in data round-trips exactly (types, shared objects), what marshal would change or refuse does
// not fit, malformed bytes give a Python error; and KeyedStateTable writes keys and states through it, or pickle,
// and reads both back (older checkpoints' pickled records included).
#include "roo/state/marshal_codec.hpp"

#include "pipeline_runner.hpp"
#include "runner_fixtures.hpp"

#include "roo/state/key_group.hpp"
#include "roo/state/keyed_state_table.hpp"

#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include <chrono>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace py = pybind11;

namespace roo::runtime {
namespace {

using state::MarshalCodec;

py::object evaluated(const char* code) {
  py::dict scope;
  py::exec(code, scope);
  return scope["value"];
}

std::string written(const py::object& value) {
  std::string out;
  EXPECT_TRUE(MarshalCodec::write(value.ptr(), out));
  return out;
}

py::object read_back(const std::string& bytes) {
  PyObject* value = MarshalCodec::read(bytes);
  if (value == nullptr) {
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::object>(value);
}

TEST(MarshalCodec, BuiltInDataComesBackEqualWithItsTypesAndSharedObjects) {
  py::object value = evaluated(R"(
shared = [1, "one"]
value = {"a": shared, "b": shared, "numbers": (0, -1, 10**40, 2.5, -0.0, float("inf"), 1 + 2j, True, None),
         "text": "\u00e9\udcff", "raw": b"\x00\xff", "set": {1, 2}, "frozen": frozenset({"x"}), "empty": {}}
)");
  ASSERT_TRUE(MarshalCodec::fits(value.ptr()));
  std::string bytes = written(value);
  EXPECT_TRUE(MarshalCodec::made(bytes));
  py::object back = read_back(bytes);
  EXPECT_TRUE(back.equal(value));
  EXPECT_TRUE(back["a"].is(back["b"]));  // one list, as pickle would keep it
  EXPECT_TRUE(py::isinstance<py::bool_>(back["numbers"][py::int_(7)]));
  EXPECT_EQ(py::repr(back["numbers"][py::int_(4)]).cast<std::string>(), "-0.0");
  EXPECT_TRUE(back["frozen"].get_type().is(py::module_::import("builtins").attr("frozenset")));
  // Flat values (a scalar, or one container of scalars) take marshal's version 2: the same values come back.
  for (const char* code : {"value = 'k'", "value = 10**30", "value = {'n': 1, 'x': 2.5}", "value = [None, b'b']",
                           "value = {1, 'a'}", "value = ('t', -1)"}) {
    py::object flat = evaluated(code);
    ASSERT_TRUE(MarshalCodec::fits(flat.ptr())) << code;
    py::object flat_back = read_back(written(flat));
    EXPECT_TRUE(flat_back.equal(flat)) << code;
    EXPECT_TRUE(flat_back.get_type().is(flat.get_type())) << code;
  }
}

// marshal would write a bytearray as bytes, and refuses subclasses: such values keep going through pickle.
TEST(MarshalCodec, WhatMarshalWouldChangeOrRefuseDoesNotFit) {
  for (const char* code : {
           "value = bytearray(b'x')",
           "import collections\nvalue = collections.OrderedDict(a=1)",
           "import collections\nvalue = collections.namedtuple('P', 'x y')(1, 2)",
           "import enum\nvalue = enum.IntEnum('E', 'A').A",
           "value = {'n': 1, 'when': __import__('datetime').date(2026, 12, 3)}",
           "value = []\nvalue.append(value)",
           "value = 1\nfor _ in range(40): value = [value]",
           "value = {1, object()}",
       }) {
    EXPECT_FALSE(MarshalCodec::fits(evaluated(code).ptr())) << code;
  }
  EXPECT_FALSE(PyErr_Occurred());
}

// A value shared many times over inside itself (a DAG 30 deep: 2^30 paths) is not walked path by path: pickle.
TEST(MarshalCodec, AValueSharedManyTimesOverDoesNotFitAndCostsLittle) {
  for (const char* code : {"value = 1\nfor _ in range(30): value = [value, value]",
                           "value = {}\nvalue['a'] = value\nvalue['b'] = value", "value = list(range(200000))"}) {
    auto started = std::chrono::steady_clock::now();
    EXPECT_FALSE(MarshalCodec::fits(evaluated(code).ptr())) << code;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1)) << code;
  }
}

// A checkpoint chain's merge finds a key's newest record by its bytes: one key, one set of bytes, however many
// references it has and whether its strings are interned.
TEST(MarshalCodec, AKeyAlwaysGivesTheSameBytes) {
  py::object key = evaluated("value = (('eu', ''.join(['f', 'r'])), 7)");
  std::string alone;
  ASSERT_TRUE(MarshalCodec::write_key(key.ptr(), alone));
  py::object held = key;  // one more reference
  py::list holders;
  holders.append(key[py::int_(0)]);
  std::string shared;
  ASSERT_TRUE(MarshalCodec::write_key(key.ptr(), shared));
  EXPECT_EQ(alone, shared);
  py::object interned = evaluated("import sys\nvalue = ((sys.intern('eu'), sys.intern('fr')), 7)");
  std::string from_interned;
  ASSERT_TRUE(MarshalCodec::write_key(interned.ptr(), from_interned));
  EXPECT_EQ(alone, from_interned);
}

// A kept key's name for the state-entity queries, read from its bytes without Python: a str's own UTF-8.
TEST(MarshalCodec, AStrKeysUtf8IsReadFromItsBytes) {
  auto utf8_of = [](const py::object& key) -> std::optional<std::string> {
    std::string bytes;
    EXPECT_TRUE(MarshalCodec::write_key(key.ptr(), bytes));
    auto utf8 = MarshalCodec::str_key_utf8(bytes);  // a view into `bytes`
    return utf8 ? std::optional<std::string>(*utf8) : std::nullopt;
  };
  EXPECT_EQ(utf8_of(py::str("k042")), std::optional<std::string>("k042"));
  EXPECT_EQ(utf8_of(py::str("grüße €")), std::optional<std::string>("grüße €"));
  EXPECT_EQ(utf8_of(py::str("")), std::optional<std::string>(""));
  EXPECT_EQ(utf8_of(evaluated("value = 'a\\ud800b'")), std::nullopt);  // a lone surrogate: not UTF-8
  EXPECT_EQ(utf8_of(py::int_(7)), std::nullopt);
  EXPECT_EQ(utf8_of(evaluated("value = ('a', 1)")), std::nullopt);
  // marshal version 2's str (an older Roo's keys): tag, 'u', u32 LE length, UTF-8.
  std::string v2("\x02u\x03\x00\x00\x00" "abc", 9);
  EXPECT_EQ(MarshalCodec::str_key_utf8(v2), std::optional<std::string_view>("abc"));
  EXPECT_EQ(MarshalCodec::str_key_utf8(v2.substr(0, v2.size() - 1)), std::nullopt);  // truncated
  EXPECT_EQ(MarshalCodec::str_key_utf8(v2 + "x"), std::nullopt);                     // longer than it says
  EXPECT_FALSE(PyErr_Occurred());
}

// A str key is written as its UTF-8; one with a lone surrogate (no UTF-8) through marshal. Both come back equal.
TEST(MarshalCodec, StrKeysComeBackEqualWhateverTheirText) {
  for (const char* code : {"value = 'k042'", "value = ''", "value = 'caf\\u00e9 \\U0001f600'", "value = 'a\\udcff'",
                           "value = 'n\\x00ul'"}) {
    py::object key = evaluated(code);
    std::string bytes;
    ASSERT_TRUE(MarshalCodec::write_key(key.ptr(), bytes)) << code;
    EXPECT_FALSE(PyErr_Occurred()) << code;
    py::object back = read_back(bytes);
    EXPECT_TRUE(back.equal(key)) << code;
    EXPECT_TRUE(py::isinstance<py::str>(back)) << code;
  }
  std::string ascii;
  ASSERT_TRUE(MarshalCodec::write_key(py::str("k042").ptr(), ascii));
  EXPECT_EQ(ascii, std::string("\x03k042"));
  std::string bad("\x03\xff", 2);  // not UTF-8
  EXPECT_EQ(MarshalCodec::read(bad), nullptr);
  EXPECT_TRUE(PyErr_Occurred());
  PyErr_Clear();
}

TEST(MarshalCodec, BytesItDidNotMakeAreNotItsAndMalformedOnesRaise) {
  py::module_ pickle = py::module_::import("pickle");
  EXPECT_FALSE(MarshalCodec::made(pickle.attr("dumps")("a").cast<std::string>()));
  EXPECT_FALSE(MarshalCodec::made(std::string("\x01plain", 6)));
  EXPECT_FALSE(MarshalCodec::made(""));
  std::string bytes = written(py::str("a longer key"));
  for (const std::string& bad : {bytes.substr(0, 4), std::string("\x02\xff\xff", 3), std::string("\x02", 1)}) {
    EXPECT_EQ(MarshalCodec::read(bad), nullptr);
    EXPECT_TRUE(PyErr_Occurred());
    PyErr_Clear();
  }
}

// Pickle for keys and states, as the runtime's codec of an application without serialize/deserialize.
state::StateCodec roo_codec() {
  py::module_ pickle = py::module_::import("pickle");
  auto dumps = python::PyRef::borrow(pickle.attr("dumps").ptr());
  auto loads = python::PyRef::borrow(pickle.attr("loads").ptr());
  return state::StateCodec{dumps, loads, dumps, loads, std::make_shared<state::PlainObjectCodec>(dumps, loads)};
}

// Every key and state leaves through hand_over (the bytes a checkpoint writes too): built-in keys and states as
// marshal, the rest as pickle; a fresh table reads each back to an equal value of the same type.
TEST(MarshalCodec, AStateTableWritesBuiltInDataThroughItAndTheRestThroughPickle) {
  py::dict states = evaluated(R"(
import decimal
value = {"word": {"n": 3, "seen": ["a", "b"]}, ("pair", 2): [1.5], b"raw": bytearray(b"ab"),
         decimal.Decimal("1.5"): {"n": 1}}
)");
  auto plan = test::plan_of("keyed_count");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  for (auto [key, value] : states) {
    ASSERT_EQ(PyDict_SetItem(table.states(), key.ptr(), value.ptr()), 0);
  }
  std::vector<std::pair<std::string, std::string>> records;
  auto handed = table.hand_over(std::vector<bool>(state::default_key_groups, true), state::default_key_groups,
                                roo_codec(), [&](std::uint32_t, std::string_view key, std::string_view value) {
                                  records.emplace_back(std::string(key), std::string(value));
                                });
  ASSERT_EQ(handed.keys, 4u);
  std::size_t marshalled_keys = 0;
  std::size_t marshalled_states = 0;
  for (const auto& [key, value] : records) {
    marshalled_keys += MarshalCodec::made(key) ? 1 : 0;
    marshalled_states += MarshalCodec::made(value) ? 1 : 0;
  }
  EXPECT_EQ(marshalled_keys, 3u);    // all but the Decimal
  EXPECT_EQ(marshalled_states, 3u);  // all but the bytearray
  auto other_plan = test::plan_of("keyed_count");
  PipelineRunner other(other_plan);
  for (const auto& [key, value] : records) {
    other.state_tables()[0].restore(key, value, roo_codec());
  }
  py::dict back = py::reinterpret_borrow<py::dict>(other.state_tables()[0].states());
  EXPECT_TRUE(back.equal(states));
  EXPECT_TRUE(py::isinstance(back[py::bytes("raw")], py::module_::import("builtins").attr("bytearray")));
}

// A set of two complex NaNs fits, but marshal cannot sort it to write it: it goes through pickle instead, and comes
// back whole.
TEST(MarshalCodec, WhatMarshalFailsToWriteGoesThroughPickle) {
  py::object nans = evaluated("value = {complex('nan'), complex('nan')}");
  ASSERT_TRUE(MarshalCodec::fits(nans.ptr()));
  std::string out = "x";
  EXPECT_FALSE(MarshalCodec::write(nans.ptr(), out));
  EXPECT_EQ(out, "x");
  EXPECT_FALSE(PyErr_Occurred());
  auto plan = test::plan_of("keyed_count");
  PipelineRunner runner(plan);
  ASSERT_EQ(PyDict_SetItemString(runner.state_tables()[0].states(), "k", nans.ptr()), 0);
  std::vector<std::pair<std::string, std::string>> records;
  auto handed = runner.state_tables()[0].hand_over(
      std::vector<bool>(state::default_key_groups, true), state::default_key_groups, roo_codec(),
      [&](std::uint32_t, std::string_view key, std::string_view value) { records.emplace_back(key, value); });
  ASSERT_EQ(handed.keys, 1u);
  EXPECT_EQ(handed.failed, 0u);
  EXPECT_FALSE(MarshalCodec::made(records[0].second));
  auto other_plan = test::plan_of("keyed_count");
  PipelineRunner other(other_plan);
  other.state_tables()[0].restore(records[0].first, records[0].second, roo_codec());
  EXPECT_EQ(py::len(py::reinterpret_borrow<py::dict>(other.state_tables()[0].states())["k"]), 2u);
}

// Checkpoints written before MarshalCodec pickled every key and state: they still restore.
TEST(MarshalCodec, PickledRecordsOfOlderCheckpointsStillRestore) {
  py::module_ pickle = py::module_::import("pickle");
  auto dumped = [&](const py::object& value) { return pickle.attr("dumps")(value).cast<std::string>(); };
  auto plan = test::plan_of("keyed_count");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  table.restore(dumped(py::str("k")), dumped(py::dict(py::arg("n") = 2)), roo_codec());
  py::dict back = py::reinterpret_borrow<py::dict>(table.states());
  EXPECT_EQ(back["k"]["n"].cast<int>(), 2);
  EXPECT_EQ(table.key_names(), std::vector<std::string>{"k"});
}

}  // namespace
}  // namespace roo::runtime
