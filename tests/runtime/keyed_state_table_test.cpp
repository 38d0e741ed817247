// KeyedStateTable through the PipelineRunner that fills it: change tracking, snapshots into real checkpoint files,
// restore into a fresh runner, and the error that names a key whose state cannot be pickled.
#include "pipeline_runner.hpp"
#include "runner_fixtures.hpp"

#include "roo/checkpoint/checkpoint_store.hpp"
#include "roo/state/key_group.hpp"
#include "roo/state/keyed_state_table.hpp"

#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include <unistd.h>

#include <filesystem>
#include <string>

namespace py = pybind11;

namespace roo::runtime {
namespace {

using test::batch_of;
using test::plan_of;

state::StateCodec pickle_codec() {
  py::module_ pickle = py::module_::import("pickle");
  auto dumps = python::PyRef::borrow(pickle.attr("dumps").ptr());
  auto loads = python::PyRef::borrow(pickle.attr("loads").ptr());
  return state::StateCodec{dumps, loads, dumps, loads};
}

std::string take(PipelineRunner& runner) {
  auto out = runner.outputs()[0].take();
  return {out.begin(), out.end()};
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

TEST(KeyedStateTable, RestoredStateContinuesWhereTheSnapshotWas) {
  TempFolder folder;
  checkpoint::StoreConfig config{.dir = folder.path(), .identity = {"keyed", "fingerprint", "initializer"}};
  {
    auto plan = plan_of("keyed_count");
    PipelineRunner runner(plan);
    runner.state_tables()[0].track_changes();
    runner.process(batch_of({"apple", "avocado", "banana"}));
    checkpoint::Snapshot snapshot(1, true);
    runner.state_tables()[0].snapshot(0, snapshot, true, pickle_codec(), state::default_key_groups);
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
        runner.state_tables()[table].restore(key, value, pickle_codec());
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

}  // namespace
}  // namespace roo::runtime
