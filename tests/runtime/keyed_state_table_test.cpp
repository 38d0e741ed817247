// KeyedStateTable through the PipelineRunner that fills it: change tracking, snapshots into real checkpoint files,
// restore into a fresh runner, and the error that names a key whose state cannot be pickled.
#include "roo/state/keyed_state_table.hpp"

#include "pipeline_runner.hpp"
#include "runner_fixtures.hpp"

#include "roo/checkpoint/checkpoint_store.hpp"
#include "roo/checkpoint/record_format.hpp"
#include "roo/state/key_group.hpp"
#include "roo/state/marshal_codec.hpp"

#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

namespace py = pybind11;

namespace roo::runtime {
namespace {

using test::batch_of;
using test::plan_of;

// Pickle for keys and states; with `plain`, plain objects through the PlainObjectCodec, as the runtime does.
state::StateCodec pickle_codec(bool plain = true) {
  py::module_ pickle = py::module_::import("pickle");
  auto dumps = python::PyRef::borrow(pickle.attr("dumps").ptr());
  auto loads = python::PyRef::borrow(pickle.attr("loads").ptr());
  return state::StateCodec{dumps, loads, dumps, loads,
                           plain ? std::make_shared<state::PlainObjectCodec>(dumps, loads) : nullptr};
}

std::string take(PipelineRunner& runner) {
  auto out = runner.outputs()[0].take();
  return {out.values.begin(), out.values.end()};
}

class TempFolder {
 public:
  TempFolder() : path_(std::filesystem::temp_directory_path() / ("roo-state-test-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() { std::filesystem::remove_all(path_); }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(KeyedStateTable, SnapshotsOnlyTheKeysChangedSinceTheLastOne) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  table.track_changes();
  runner.process(batch_of({"apple", "banana", "cherry", "avocado"}));
  checkpoint::Snapshot first(1, false);
  EXPECT_EQ(table.snapshot(0, first, false, pickle_codec(), state::default_key_groups), 3u);  // keys a, b, c
  table.forget_changes();
  EXPECT_FALSE(table.has_changes());
  runner.process(batch_of({"blueberry"}));
  checkpoint::Snapshot second(2, false);
  EXPECT_EQ(table.snapshot(0, second, false, pickle_codec(), state::default_key_groups), 1u);  // only b
  checkpoint::Snapshot full(3, true);
  EXPECT_EQ(table.snapshot(0, full, true, pickle_codec(), state::default_key_groups), 3u);
}

class KeyedStateRestore : public testing::TestWithParam<bool> {};

TEST_P(KeyedStateRestore, RestoredStateContinuesWhereTheSnapshotWas) {
  const bool plain = GetParam();
  TempFolder folder;
  checkpoint::StoreConfig config{.dir = folder.path(), .identity = {"keyed", "fingerprint", "initializer"}};
  {
    auto plan = plan_of("keyed_count");
    PipelineRunner runner(plan);
    runner.state_tables()[0].track_changes();
    runner.process(batch_of({"apple", "avocado", "banana"}));
    checkpoint::Snapshot snapshot(1, true);
    runner.state_tables()[0].snapshot(0, snapshot, true, pickle_codec(plain), state::default_key_groups);
    checkpoint::CheckpointStore store(config);
    (void)store.write_and_commit(snapshot);
    runner.process(batch_of({"axe"}));  // after the checkpoint: not restored
  }
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  checkpoint::CheckpointStore store(config);
  std::vector<std::string> skipped;
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_TRUE(skipped.empty());
  std::size_t restored = 0;
  store.read(
      *point,
      [&](std::uint32_t table, std::uint32_t, std::string_view key, std::string_view value) {
        EXPECT_EQ(state::PlainObjectCodec::made(value), plain);
        runner.state_tables()[table].restore(key, value, pickle_codec(plain));
        ++restored;
      },
      [](std::uint32_t, std::string_view) {});
  EXPECT_EQ(restored, 2u);
  EXPECT_EQ(runner.state_tables()[0].size(), 2u);
  runner.process(batch_of({"apricot", "berry", "cherry"}));
  EXPECT_EQ(take(runner), "apricot=3\nberry=2\ncherry=1\n");
  auto names = runner.state_keys();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].second.size(), 3u);  // a and b restored, c new
}

INSTANTIATE_TEST_SUITE_P(PickleAndPlain, KeyedStateRestore, testing::Bool());

// The fixture's Count is a plain class: a snapshot replaces an object only its table holds with a copy (same
// attributes, inline again), and leaves one held elsewhere as it is.
TEST(KeyedStateTable, ReplacesAPlainStateOnlyItsTableHolds) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  table.track_changes();
  runner.process(batch_of({"apple", "banana", "banana"}));
  PyObject* apple_key = PyUnicode_FromString("a");
  PyObject* banana_key = PyUnicode_FromString("b");
  PyObject* apple = PyDict_GetItem(table.states(), apple_key);
  PyObject* banana = PyDict_GetItem(table.states(), banana_key);
  Py_INCREF(banana);  // someone else holds banana's state
  checkpoint::Snapshot snapshot(1, true);
  EXPECT_EQ(table.snapshot(0, snapshot, true, pickle_codec(), state::default_key_groups), 2u);
  PyObject* apple_after = PyDict_GetItem(table.states(), apple_key);
  EXPECT_NE(apple_after, apple);
  EXPECT_EQ(PyDict_GetItem(table.states(), banana_key), banana);
  EXPECT_EQ(py::str(py::handle(apple_after).attr("__class__").attr("__name__")).cast<std::string>(), "Count");
  EXPECT_EQ(py::handle(apple_after).attr("n").cast<int>(), 1);
  runner.process(batch_of({"avocado"}));
  EXPECT_EQ(take(runner), "apple=1\nbanana=1\nbanana=2\navocado=2\n");
  Py_DECREF(banana);
  Py_DECREF(apple_key);
  Py_DECREF(banana_key);
}

TEST(KeyedStateTable, MarksManyKeysAndGrowsItsTable) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  table.track_changes();
  core::FrameBatch batch;
  for (int i = 0; i < 300; ++i) {
    // 300 different first letters (U+0100 onwards, in UTF-8): 300 keys, more than the table's first 64 slots.
    std::string word = py::str(py::module_::import("builtins").attr("chr")(0x100 + i)).cast<std::string>() + "x";
    batch.append(word.data(), word.size());
  }
  runner.process(batch);
  checkpoint::Snapshot snapshot(1, false);
  EXPECT_EQ(table.snapshot(0, snapshot, false, pickle_codec(), state::default_key_groups), 300u);
  table.forget_changes();
  EXPECT_FALSE(table.has_changes());
}

// One object as the state of every key (the factory hands out an object held elsewhere too): the marks cannot tell
// the keys apart, so every snapshot takes them all.
TEST(KeyedStateTable, AStateSharedByKeysMakesTheSnapshotTakeEveryKey) {
  auto plan = plan_of("keyed_shared");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  table.track_changes();
  runner.process(batch_of({"apple", "banana", "cherry"}));
  checkpoint::Snapshot snapshot(1, false);
  EXPECT_EQ(table.snapshot(0, snapshot, false, pickle_codec(), state::default_key_groups), 3u);
  table.forget_changes();
  runner.process(batch_of({"avocado"}));
  checkpoint::Snapshot next(2, false);
  EXPECT_EQ(table.snapshot(0, next, false, pickle_codec(), state::default_key_groups), 3u);
}

TEST(KeyedStateTable, NamesTheKeyWhoseStateCannotBePickledAndKeepsItsChanges) {
  auto plan = plan_of("keyed_hold");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  table.track_changes();
  runner.process(batch_of({"lock it"}));
  checkpoint::Snapshot snapshot(1, false);
  try {
    (void)table.snapshot(0, snapshot, false, pickle_codec(), state::default_key_groups);
    FAIL() << "a Lock was pickled";
  } catch (const state::StateSerializationError& error) {
    EXPECT_EQ(std::string(error.what()),
              "the state of key 'l' in state computation 'hold' could not be pickled: TypeError: cannot pickle "
              "'_thread.lock' object");
  }
  EXPECT_FALSE(PyErr_Occurred());
  EXPECT_TRUE(table.has_changes());
  runner.process(batch_of({"later"}));  // the state no longer holds the lock
  checkpoint::Snapshot retry(2, false);
  EXPECT_EQ(table.snapshot(0, retry, false, pickle_codec(), state::default_key_groups), 1u);
}

std::uint32_t group_of(const char* key, std::uint32_t key_groups) {
  py::str text(key);
  return static_cast<std::uint32_t>(state::key_group_of(text.ptr(), key_groups));
}

// A rescale: the keys of the key groups that leave go, serialized as a snapshot writes them; the others stay.
TEST(KeyedStateTable, HandsOverTheKeysOfTheKeyGroupsThatLeave) {
  constexpr std::uint32_t groups = 64;
  ASSERT_NE(group_of("b", groups), group_of("a", groups));
  ASSERT_NE(group_of("b", groups), group_of("c", groups));
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  table.track_changes();
  runner.process(batch_of({"apple", "banana", "cherry", "avocado"}));
  (void)take(runner);
  std::vector<bool> leaving(groups, false);
  leaving[group_of("a", groups)] = true;
  leaving[group_of("c", groups)] = true;
  std::vector<std::tuple<std::uint32_t, std::string, std::string>> taken;
  auto handed = table.hand_over(leaving, groups, pickle_codec(),
                                [&](std::uint32_t group, std::string_view key, std::string_view value) {
                                  taken.emplace_back(group, std::string(key), std::string(value));
                                });
  EXPECT_EQ(handed.keys, 2u);
  EXPECT_EQ(handed.failed, 0u);
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.key_names(), std::vector<std::string>{"b"});
  checkpoint::Snapshot changed(1, false);  // the marks of the keys that left went with them
  EXPECT_EQ(table.snapshot(0, changed, false, pickle_codec(), groups), 1u);

  auto other_plan = plan_of("keyed_count");
  PipelineRunner other(other_plan);
  for (const auto& [group, key, value] : taken) {
    EXPECT_TRUE(group == group_of("a", groups) || group == group_of("c", groups));
    other.state_tables()[0].restore(key, value, pickle_codec());
  }
  other.process(batch_of({"avocado", "cherry"}));
  EXPECT_EQ(take(other), "avocado=3\ncherry=2\n");
  runner.process(batch_of({"apricot", "blueberry"}));  // a's state left: a new one here
  EXPECT_EQ(take(runner), "apricot=1\nblueberry=2\n");
}

// The keys that left may stay in the dict until the stream resumed (remove_left_keys), unseen: not counted, not in
// a snapshot, and a key given back is not removed by its old removal.
TEST(KeyedStateTable, KeysHandedOverAreRemovedFromTheDictLaterAndUnseenUntilThen) {
  constexpr std::uint32_t groups = 64;
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  std::string words = "apple banana cherry date elder fig grape hazel iris jujube kiwi lime mango";
  std::vector<std::string> batch;
  for (std::size_t at = 0, end = 0; at < words.size(); at = end + 1) {
    end = std::min(words.find(' ', at), words.size());
    batch.push_back(words.substr(at, end - at));
  }
  auto group_of_word = [&](const std::string& word) { return group_of(word.substr(0, 1).c_str(), groups); };
  std::vector<bool> leaving(groups, false);
  for (std::size_t i = 0; i < batch.size(); i += 2) {
    leaving[group_of_word(batch[i])] = true;
  }
  std::size_t leaves = 0;
  for (const auto& word : batch) {
    leaves += leaving[group_of_word(word)] ? 1 : 0;
  }
  ASSERT_GT(leaves, 3u);
  for (const auto& word : batch) {
    runner.process(batch_of({word}));
  }
  (void)take(runner);
  std::vector<std::pair<std::string, std::string>> taken;
  auto handed = table.hand_over(
      leaving, groups, pickle_codec(),
      [&](std::uint32_t, std::string_view key, std::string_view value) { taken.emplace_back(key, value); }, true);
  ASSERT_EQ(handed.keys, leaves);
  EXPECT_EQ(table.size(), batch.size() - leaves);
  EXPECT_EQ(static_cast<std::size_t>(PyDict_GET_SIZE(table.states())), batch.size());  // not removed yet
  EXPECT_TRUE(table.has_left_keys());
  EXPECT_FALSE(table.remove_left_keys(2));
  EXPECT_EQ(static_cast<std::size_t>(PyDict_GET_SIZE(table.states())), batch.size() - 2);
  EXPECT_EQ(table.size(), batch.size() - leaves);

  checkpoint::Snapshot full(1, true);  // skips the rest, without removing them: only the keys that stayed
  EXPECT_EQ(table.snapshot(0, full, true, pickle_codec(), groups), batch.size() - leaves);
  EXPECT_TRUE(table.has_left_keys());
  checkpoint::Snapshot other_count(1, true);  // under another count of key groups: removed first
  EXPECT_EQ(table.snapshot(0, other_count, true, pickle_codec(), groups * 2), batch.size() - leaves);
  EXPECT_FALSE(table.has_left_keys());
  EXPECT_EQ(static_cast<std::size_t>(PyDict_GET_SIZE(table.states())), batch.size() - leaves);

  // Handed over again, then one given back before the removal: it stays, with the state it came back with.
  for (const auto& [key, value] : taken) {
    table.restore(key, value, pickle_codec());
  }
  taken.clear();
  (void)table.hand_over(
      leaving, groups, pickle_codec(),
      [&](std::uint32_t, std::string_view key, std::string_view value) { taken.emplace_back(key, value); }, true);
  ASSERT_EQ(taken.size(), leaves);
  table.restore(taken.front().first, taken.front().second, pickle_codec());
  EXPECT_FALSE(table.has_left_keys());  // the restore removed the others first
  EXPECT_TRUE(table.remove_left_keys(100));
  EXPECT_EQ(table.size(), batch.size() - leaves + 1);
  auto key = py::reinterpret_steal<py::object>(state::MarshalCodec::read(taken.front().first));
  ASSERT_TRUE(key);
  std::string word;
  for (const auto& candidate : batch) {
    if (candidate.substr(0, 1) == key.cast<std::string>()) {
      word = candidate;
    }
  }
  runner.process(batch_of({word}));
  EXPECT_EQ(take(runner), word + "=2\n");  // its restored count, then this event
}

// The new owner's side of a rescale: the keys taken are kept as bytes and restored a key group at a time, when an
// event first needs one of the group's keys, or when asked, or all before a snapshot; counted all along.
TEST(KeyedStateTable, KeptKeysAreRestoredWhenFirstNeededAndCountedUntilThen) {
  constexpr std::uint32_t groups = 64;
  auto giver_plan = plan_of("keyed_count");
  PipelineRunner giver(giver_plan);
  std::vector<std::string> words = {"apple", "banana", "cherry", "date", "elder", "fig", "grape", "hazel"};
  for (const auto& word : words) {
    giver.process(batch_of({word}));
  }
  (void)take(giver);
  std::vector<std::tuple<std::uint32_t, std::string, std::string>> taken;
  (void)giver.state_tables()[0].hand_over(std::vector<bool>(groups, true), groups, pickle_codec(),
                                          [&](std::uint32_t group, std::string_view key, std::string_view value) {
                                            taken.emplace_back(group, std::string(key), std::string(value));
                                          });
  ASSERT_EQ(taken.size(), words.size());

  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  for (const auto& [group, key, value] : taken) {
    table.keep_to_restore(group, groups, key, value, pickle_codec(), "w1");
  }
  EXPECT_TRUE(table.has_pending());
  EXPECT_EQ(table.size(), words.size());
  EXPECT_EQ(PyDict_GET_SIZE(table.states()), 0);
  auto names = table.key_names();  // named as they are kept, not when restored
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h"}));
  runner.process(batch_of({"avocado"}));  // a's group is restored on the miss: its count goes on
  EXPECT_EQ(take(runner), "avocado=2\n");
  auto restored = static_cast<std::size_t>(PyDict_GET_SIZE(table.states()));
  EXPECT_GE(restored, 1u);
  EXPECT_LT(restored, words.size());
  EXPECT_EQ(table.size(), words.size());
  EXPECT_FALSE(table.restore_pending(1));
  EXPECT_GT(static_cast<std::size_t>(PyDict_GET_SIZE(table.states())), restored);
  runner.process(batch_of({"zebra"}));  // a key no group kept: new, and nothing else restored for it
  EXPECT_EQ(take(runner), "zebra=1\n");
  EXPECT_EQ(table.size(), words.size() + 1);

  // A snapshot copies the kept records as they came (no restore), the restored keys as usual: a new runner restored
  // from it counts on as this one does.
  table.track_changes();
  checkpoint::Snapshot full(1, true);
  EXPECT_EQ(table.snapshot(0, full, true, pickle_codec(), groups), words.size() + 1);
  EXPECT_TRUE(table.has_pending());
  table.forget_changes();
  checkpoint::Snapshot nothing_new(1, false);  // the kept keys are in a snapshot now: not again, unless full
  EXPECT_EQ(table.snapshot(0, nothing_new, false, pickle_codec(), groups), 0u);
  auto copy_plan = plan_of("keyed_count");
  PipelineRunner copy(copy_plan);
  checkpoint::RecordVisitor visitor;
  visitor.on_state = [&](std::uint32_t, std::uint32_t, std::string_view key, std::string_view value) {
    copy.state_tables()[0].restore(key, value, pickle_codec());
  };
  visitor.on_source = [](std::uint32_t, std::string_view) {};
  ASSERT_GT(checkpoint::visit_records({full.records().data(), full.records().size()}, visitor), 0);
  EXPECT_EQ(copy.state_tables()[0].size(), words.size() + 1);

  EXPECT_TRUE(table.restore_pending(groups));
  EXPECT_TRUE(table.take_restore_failures().empty());
  EXPECT_EQ(table.key_names().size(), words.size() + 1);  // each once: restoring a kept key does not name it again
  for (const auto& word : words) {
    copy.process(batch_of({word}));
  }
  EXPECT_EQ(take(copy), "apple=3\nbanana=2\ncherry=2\ndate=2\nelder=2\nfig=2\ngrape=2\nhazel=2\n");
  for (const auto& word : words) {
    runner.process(batch_of({word}));
  }
  EXPECT_EQ(take(runner), "apple=3\nbanana=2\ncherry=2\ndate=2\nelder=2\nfig=2\ngrape=2\nhazel=2\n");
}

TEST(KeyedStateTable, AKeptKeyThatCannotBeReadBackIsAFailureOfItsPeer) {
  constexpr std::uint32_t groups = 64;
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  py::module_ pickle = py::module_::import("pickle");
  std::string key = pickle.attr("dumps")(py::str("b")).cast<std::string>();
  table.keep_to_restore(group_of("b", groups), groups, key, "not a pickle", pickle_codec(), "w2");
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.key_names(), std::vector<std::string>{"b"});
  runner.process(batch_of({"banana"}));  // restored on the miss: it fails, so a new state
  EXPECT_EQ(take(runner), "banana=1\n");
  EXPECT_EQ(table.key_names(), std::vector<std::string>{"b"});  // the failed one's name went, the new one's came
  EXPECT_FALSE(table.has_pending());
  auto failures = table.take_restore_failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures["w2"].first, 1u);
  EXPECT_EQ(failures["w2"].second.rfind("the state of key 'b' in state computation 'count' could not be read back: "
                                        "UnpicklingError",
                                        0),
            0u)
      << failures["w2"].second;
  EXPECT_TRUE(table.take_restore_failures().empty());
  EXPECT_FALSE(PyErr_Occurred());
}

// A key group given back before the keys it left with were removed: what comes back wins, and nothing is removed
// after it.
TEST(KeyedStateTable, AGroupGivenBackBeforeItsOldKeysWereRemovedKeepsWhatCameBack) {
  constexpr std::uint32_t groups = 64;
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  runner.process(batch_of({"apple", "apricot", "banana"}));  // a=2, b=1
  (void)take(runner);
  std::vector<bool> leaving(groups, false);
  leaving[group_of("a", groups)] = true;
  std::vector<std::pair<std::string, std::string>> taken;
  (void)table.hand_over(
      leaving, groups, pickle_codec(),
      [&](std::uint32_t, std::string_view key, std::string_view value) { taken.emplace_back(key, value); }, true);
  ASSERT_EQ(taken.size(), 1u);
  ASSERT_TRUE(table.has_left_keys());
  // Elsewhere, a went on to 5, then comes back here.
  auto other_plan = plan_of("keyed_count");
  PipelineRunner other(other_plan);
  other.state_tables()[0].restore(taken[0].first, taken[0].second, pickle_codec());
  other.process(batch_of({"avocado", "acorn", "almond"}));
  (void)take(other);
  std::vector<std::pair<std::string, std::string>> back;
  (void)other.state_tables()[0].hand_over(
      std::vector<bool>(groups, true), groups, pickle_codec(),
      [&](std::uint32_t, std::string_view key, std::string_view value) { back.emplace_back(key, value); });
  ASSERT_EQ(back.size(), 1u);
  table.keep_to_restore(group_of("a", groups), groups, back[0].first, back[0].second, pickle_codec(), "w1");
  EXPECT_FALSE(table.has_left_keys());  // removed before the kept key could be shadowed by its old state
  runner.process(batch_of({"anchor"}));
  EXPECT_EQ(take(runner), "anchor=6\n");
  EXPECT_TRUE(table.remove_left_keys(100));
  runner.process(batch_of({"aster"}));
  EXPECT_EQ(take(runner), "aster=7\n");
  auto names = table.key_names();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
}

// The names the state-entity queries list follow the keys that leave, whatever the keys: a str with a NUL in it, and
// bytes that are not UTF-8 (named with replacement characters, so their names do not hash to their groups).
TEST(KeyedStateTable, TheNamesOfKeysThatLeaveGoWithThem) {
  constexpr std::uint32_t groups = 64;
  py::module_ pickle = py::module_::import("pickle");
  auto dumped = [&](py::object value) { return pickle.attr("dumps")(value).cast<std::string>(); };
  py::object nul = py::str(std::string("n\0ul", 4));
  py::object raw = py::bytes(std::string("\xff\xfe", 2));
  for (bool with_bytes : {false, true}) {
    auto plan = plan_of("keyed_count");
    PipelineRunner runner(plan);
    auto& table = runner.state_tables()[0];
    table.restore(dumped(py::str("stays")), dumped(py::int_(1)), pickle_codec());
    table.restore(dumped(nul), dumped(py::int_(2)), pickle_codec());
    if (with_bytes) {
      table.restore(dumped(raw), dumped(py::int_(3)), pickle_codec());
    }
    std::vector<bool> leaving(groups, true);
    leaving[static_cast<std::size_t>(state::key_group_of(py::str("stays").ptr(), groups))] = false;
    ASSERT_TRUE(leaving[static_cast<std::size_t>(state::key_group_of(nul.ptr(), groups))]);
    ASSERT_TRUE(leaving[static_cast<std::size_t>(state::key_group_of(raw.ptr(), groups))]);
    auto handed =
        table.hand_over(leaving, groups, pickle_codec(), [](std::uint32_t, std::string_view, std::string_view) {});
    EXPECT_EQ(handed.keys, with_bytes ? 2u : 1u);
    EXPECT_EQ(table.key_names(), std::vector<std::string>{"stays"}) << "with a bytes key: " << with_bytes;
  }
}

TEST(KeyedStateTable, AKeyWhoseStateCannotBeSerializedLeavesAndIsCountedAsFailed) {
  auto plan = plan_of("keyed_hold");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  runner.process(batch_of({"lock it", "banana"}));
  std::size_t taken = 0;
  auto handed = table.hand_over(std::vector<bool>(state::default_key_groups, true), state::default_key_groups,
                                pickle_codec(), [&](std::uint32_t, std::string_view, std::string_view) { ++taken; });
  EXPECT_EQ(handed.keys, 1u);
  EXPECT_EQ(taken, 1u);
  EXPECT_EQ(handed.failed, 1u);
  EXPECT_EQ(handed.first_failure,
            "the state of key 'l' in state computation 'hold' could not be pickled: TypeError: cannot pickle "
            "'_thread.lock' object");
  EXPECT_EQ(table.size(), 0u);
  EXPECT_TRUE(table.key_names().empty());
  EXPECT_FALSE(PyErr_Occurred());
}

}  // namespace
}  // namespace roo::runtime
