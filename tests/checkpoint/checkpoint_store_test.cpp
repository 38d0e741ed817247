#include "roo/checkpoint/checkpoint_store.hpp"

#include "checkpoint_test_support.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace roo::checkpoint {
namespace {

using test::files_in;
using test::manifest_of;
using test::name_of;
using test::restore;
using test::TempDir;

Snapshot full_of(std::uint64_t id, std::initializer_list<std::pair<std::string, std::string>> entries,
                 std::string position) {
  Snapshot snapshot(id, true);
  for (const auto& [key, value] : entries) {
    snapshot.add_state(0, static_cast<std::uint32_t>(key.size()), key, value);
  }
  snapshot.add_source_position(0, position);
  return snapshot;
}

Snapshot delta_of(std::uint64_t id, std::initializer_list<std::pair<std::string, std::string>> entries,
                  std::string position) {
  Snapshot snapshot(id, false);
  for (const auto& [key, value] : entries) {
    snapshot.add_state(0, static_cast<std::uint32_t>(key.size()), key, value);
  }
  snapshot.add_source_position(0, position);
  return snapshot;
}

std::map<std::string, std::string> values_of(const test::Restored& restored) {
  std::map<std::string, std::string> out;
  for (const auto& [table_key, group_value] : restored.state) {
    out[std::to_string(table_key.first) + ":" + table_key.second] = group_value.second;
  }
  return out;
}

TEST(CheckpointStore, LaysOutItsFolderUnderTheDirectory) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path(), "word count/v2", "worker 1"));
  EXPECT_EQ(store.folder(), dir.path() / "word_count_v2.roo-checkpoints");
  EXPECT_EQ(store.worker_folder(), dir.path() / "word_count_v2.roo-checkpoints" / "worker_1");
  EXPECT_TRUE(std::filesystem::is_directory(store.worker_folder()));
  EXPECT_TRUE(store.needs_full());
}

TEST(CheckpointStore, RoundTripsAFullSnapshot) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  Snapshot snapshot(1, true);
  snapshot.add_state(0, 7, "apple", "3");
  snapshot.add_state(1, 9, "apple", std::string("\x80\x00pickled", 9));
  snapshot.add_source_position(2, "offset 42");
  CommitResult result = store.write_and_commit(snapshot);
  EXPECT_EQ(result.checkpoint_id, 1u);
  EXPECT_EQ(result.state_entries, 2u);
  EXPECT_FALSE(result.compacted);
  std::uintmax_t on_disk = std::filesystem::file_size(store.worker_folder() / name_of(1, "full")) +
                           std::filesystem::file_size(store.folder() / manifest_of(1));
  EXPECT_EQ(result.bytes_written, on_disk);
  EXPECT_FALSE(store.needs_full());

  CheckpointStore reopened(test::config_in(dir.path()));
  std::vector<std::string> skipped;
  auto point = reopened.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_TRUE(skipped.empty());
  EXPECT_EQ(point->checkpoint_id, 1u);
  EXPECT_EQ(point->chain, (std::vector<std::filesystem::path>{store.worker_folder() / name_of(1, "full")}));
  test::Restored restored = restore(reopened, *point);
  EXPECT_EQ(restored.state_calls, 2u);
  EXPECT_EQ(restored.state.at({0, "apple"}), (std::pair<std::uint32_t, std::string>{7, "3"}));
  EXPECT_EQ(restored.state.at({1, "apple"}),
            (std::pair<std::uint32_t, std::string>{9, std::string("\x80\x00pickled", 9)}));
  EXPECT_EQ(restored.sources, (std::map<std::uint32_t, std::string>{{2, "offset 42"}}));
  EXPECT_FALSE(reopened.needs_full());
}

TEST(CheckpointStore, DeltasRestoreTheNewestValueOfEachKeyOnce) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  // The full snapshot is bigger than the deltas together, so the chain is not compacted.
  std::string big(1000, 'x');
  (void)store.write_and_commit(full_of(1, {{"a", "1"}, {"b", "1"}, {"c", big}}, "p1"));
  EXPECT_FALSE(store.write_and_commit(delta_of(2, {{"a", "2"}}, "p2")).compacted);
  EXPECT_FALSE(store.write_and_commit(delta_of(3, {{"a", "3"}, {"d", "3"}}, "p3")).compacted);
  std::vector<std::string> skipped;
  CheckpointStore reopened(test::config_in(dir.path()));
  auto point = reopened.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->checkpoint_id, 3u);
  EXPECT_EQ(point->chain.size(), 3u);
  test::Restored restored = restore(reopened, *point);
  EXPECT_EQ(restored.state_calls, 4u);  // each key once
  EXPECT_EQ(values_of(restored),
            (std::map<std::string, std::string>{{"0:a", "3"}, {"0:b", "1"}, {"0:c", big}, {"0:d", "3"}}));
  EXPECT_EQ(restored.sources, (std::map<std::uint32_t, std::string>{{0, "p3"}}));
}

TEST(CheckpointStore, RecoveryContinuesTheChainWithIdsAboveIt) {
  TempDir dir;
  {
    CheckpointStore store(test::config_in(dir.path()));
    (void)store.write_and_commit(full_of(1, {{"a", "1"}}, "p1"));
    (void)store.write_and_commit(delta_of(2, {{"b", "2"}}, "p2"));
  }
  CheckpointStore store(test::config_in(dir.path()));
  EXPECT_TRUE(store.needs_full());
  std::vector<std::string> skipped;
  ASSERT_TRUE(store.latest_complete(skipped).has_value());
  EXPECT_FALSE(store.needs_full());
  try {
    (void)store.write_and_commit(delta_of(2, {{"a", "x"}}, "px"));
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()), "write checkpoint 2 to " + store.worker_folder().string() +
                                             ": checkpoint 2 is already there (ids must grow)");
  }
  (void)store.write_and_commit(delta_of(3, {{"a", "3"}}, "p3"));
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->checkpoint_id, 3u);
  EXPECT_EQ(values_of(restore(store, *point)), (std::map<std::string, std::string>{{"0:a", "3"}, {"0:b", "2"}}));
}

TEST(CheckpointStore, RefusesAnIncrementalSnapshotWithoutAChain) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  try {
    (void)store.write_and_commit(delta_of(1, {{"a", "1"}}, "p"));
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "write checkpoint 1 to " + store.worker_folder().string() +
                  ": it is incremental, and there is no complete chain to add it to (the next snapshot must be full)");
  }
}

TEST(CheckpointStore, CompactsTheChainIntoOneFullSnapshotPastMaxChain) {
  TempDir dir;
  StoreConfig config = test::config_in(dir.path());
  config.max_chain = 3;
  CheckpointStore store(config);
  // A big full snapshot, so the small deltas never outgrow it: only max_chain triggers compaction.
  std::string big(4096, 'x');
  (void)store.write_and_commit(full_of(1, {{"a", "1"}, {"b", "1"}, {"big", big}}, "p1"));
  EXPECT_FALSE(store.write_and_commit(delta_of(2, {{"a", "2"}}, "p2")).compacted);
  EXPECT_FALSE(store.write_and_commit(delta_of(3, {{"b", "3"}}, "p3")).compacted);
  CommitResult result = store.write_and_commit(delta_of(4, {{"c", "4"}}, "p4"));
  EXPECT_TRUE(result.compacted);
  std::vector<std::string> skipped;
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->chain, (std::vector<std::filesystem::path>{store.worker_folder() / name_of(4, "full")}));
  std::map<std::string, std::string> expected{{"0:a", "2"}, {"0:b", "3"}, {"0:big", big}, {"0:c", "4"}};
  EXPECT_EQ(values_of(restore(store, *point)), expected);
  // Once the next checkpoint retires checkpoint 3, the old chain's files are gone.
  (void)store.write_and_commit(delta_of(5, {{"a", "5"}}, "p5"));
  EXPECT_EQ(files_in(store.worker_folder()), (std::vector<std::string>{name_of(4, "full"), name_of(5, "delta")}));
  expected["0:a"] = "5";
  point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(values_of(restore(store, *point)), expected);
}

TEST(CheckpointStore, CompactsWhenTheDeltasOutgrowTheFullSnapshot) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  (void)store.write_and_commit(full_of(1, {{"a", "1"}}, "p1"));
  CommitResult result = store.write_and_commit(delta_of(2, {{"a", std::string(1000, 'y')}}, "p2"));
  EXPECT_TRUE(result.compacted);
  std::vector<std::string> skipped;
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->chain.size(), 1u);
  EXPECT_EQ(values_of(restore(store, *point)), (std::map<std::string, std::string>{{"0:a", std::string(1000, 'y')}}));
}

TEST(CheckpointStore, KeepsOnlyTheNewestTwoCompleteCheckpoints) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  for (std::uint64_t id = 1; id <= 5; ++id) {
    (void)store.write_and_commit(full_of(id, {{"k", std::to_string(id)}}, "p"));
  }
  EXPECT_EQ(files_in(store.folder()), (std::vector<std::string>{".lock", manifest_of(4), manifest_of(5)}));
  EXPECT_EQ(files_in(store.worker_folder()), (std::vector<std::string>{name_of(4, "full"), name_of(5, "full")}));
  // A delta chain keeps what the two manifests name.
  (void)store.write_and_commit(delta_of(6, {{"k", "6"}}, "p"));
  EXPECT_EQ(files_in(store.worker_folder()),
            (std::vector<std::string>{name_of(5, "full"), name_of(6, "delta")}));
}

TEST(CheckpointStore, WorkersSharingAFolderEachHaveTheirChainInOneManifest) {
  TempDir dir;
  CheckpointStore one(test::config_in(dir.path(), "word_count", "worker1"));
  CheckpointStore two(test::config_in(dir.path(), "word_count", "worker2"));
  (void)one.write_and_commit(full_of(1, {{"a", "one"}}, "p1"));
  (void)two.write_and_commit(full_of(1, {{"a", "two"}}, "q1"));
  std::vector<std::string> skipped;
  auto point_one = one.latest_complete(skipped);
  auto point_two = two.latest_complete(skipped);
  ASSERT_TRUE(point_one && point_two);
  EXPECT_TRUE(skipped.empty());
  EXPECT_EQ(values_of(restore(one, *point_one)), (std::map<std::string, std::string>{{"0:a", "one"}}));
  EXPECT_EQ(values_of(restore(two, *point_two)), (std::map<std::string, std::string>{{"0:a", "two"}}));
  EXPECT_EQ(files_in(one.folder()), (std::vector<std::string>{".lock", manifest_of(1)}));
}

TEST(CheckpointStore, SkipsACheckpointThatNamesOnlyAnotherWorker) {
  TempDir dir;
  CheckpointStore one(test::config_in(dir.path(), "word_count", "worker1"));
  CheckpointStore two(test::config_in(dir.path(), "word_count", "worker2"));
  (void)one.write_and_commit(full_of(1, {{"a", "one"}}, "p1"));
  (void)two.write_and_commit(full_of(1, {{"a", "two"}}, "q1"));
  (void)two.write_and_commit(full_of(2, {{"a", "two2"}}, "q2"));  // worker1 died before its part of 2
  std::vector<std::string> skipped;
  auto point = one.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->checkpoint_id, 1u);
  EXPECT_EQ(skipped,
            std::vector<std::string>{"checkpoint 2: " + manifest_of(2) + " names no files of worker 'worker1'"});
}

TEST(CheckpointStore, RemoveAllLeavesNothingBehind) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  (void)store.write_and_commit(full_of(1, {{"a", "1"}}, "p1"));
  (void)store.write_and_commit(delta_of(2, {{"a", "2"}}, "p2"));
  store.remove_all();
  EXPECT_FALSE(std::filesystem::exists(store.folder()));
  EXPECT_TRUE(store.needs_full());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(CheckpointStore, RemoveAllKeepsTheFolderWhileAnotherWorkerHasFiles) {
  TempDir dir;
  CheckpointStore one(test::config_in(dir.path(), "word_count", "worker1"));
  CheckpointStore two(test::config_in(dir.path(), "word_count", "worker2"));
  (void)one.write_and_commit(full_of(1, {{"a", "one"}}, "p1"));
  (void)two.write_and_commit(full_of(1, {{"a", "two"}}, "q1"));
  one.remove_all();
  EXPECT_FALSE(std::filesystem::exists(one.worker_folder()));
  std::vector<std::string> skipped;
  auto point = two.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(values_of(restore(two, *point)), (std::map<std::string, std::string>{{"0:a", "two"}}));
}

}  // namespace
}  // namespace roo::checkpoint
