#include "roo/checkpoint/checkpoint_writer.hpp"

#include "checkpoint_test_support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace roo::checkpoint {
namespace {

using test::TempDir;

Snapshot snapshot_of(std::uint64_t id, bool full) {
  Snapshot snapshot(id, full);
  snapshot.add_state(0, 1, "key", "v" + std::to_string(id));
  snapshot.add_source_position(0, "p");
  return snapshot;
}

TEST(CheckpointWriter, WritesOnItsThreadAndReportsTheOutcomeOnce) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  std::atomic<int> wakes{0};
  CheckpointWriter writer(store, [&] { ++wakes; });
  EXPECT_FALSE(writer.busy());
  EXPECT_FALSE(writer.take_outcome().has_value());
  writer.submit(snapshot_of(1, true));
  EXPECT_TRUE(writer.busy());
  // Poll as the executor does, after each wake.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::optional<CheckpointOutcome> outcome;
  while (!outcome && std::chrono::steady_clock::now() < deadline) {
    outcome = writer.take_outcome();
    if (!outcome) {
      EXPECT_TRUE(writer.busy());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->ok);
  EXPECT_EQ(outcome->checkpoint_id, 1u);
  EXPECT_EQ(outcome->error, "");
  EXPECT_EQ(outcome->result.checkpoint_id, 1u);
  EXPECT_EQ(outcome->result.state_entries, 1u);
  EXPECT_GT(outcome->result.bytes_written, 0u);
  EXPECT_EQ(wakes.load(), 1);
  EXPECT_FALSE(writer.busy());
  EXPECT_FALSE(writer.take_outcome().has_value());
}

TEST(CheckpointWriter, WaitReturnsTheOutcomeOfTheWriteInProgress) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  CheckpointWriter writer(store, nullptr);
  EXPECT_FALSE(writer.wait().has_value());  // nothing in flight
  writer.submit(snapshot_of(1, true));
  EXPECT_THROW(writer.submit(snapshot_of(2, false)), std::logic_error);  // one checkpoint in flight at a time
  auto first = writer.wait();
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->ok);
  EXPECT_FALSE(writer.busy());
  writer.submit(snapshot_of(2, false));
  auto second = writer.wait();
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(second->ok);
  EXPECT_EQ(second->checkpoint_id, 2u);
  std::vector<std::string> skipped;
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->checkpoint_id, 2u);
}

TEST(CheckpointWriter, AFailedWriteIsAnOutcomeWithOneLine) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  CheckpointWriter writer(store, nullptr);
  writer.submit(snapshot_of(1, true));
  ASSERT_TRUE(writer.wait()->ok);
  std::filesystem::create_directory(store.worker_folder() / (test::name_of(2, "delta") + ".tmp"));
  writer.submit(snapshot_of(2, false));
  auto outcome = writer.wait();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->ok);
  EXPECT_EQ(outcome->checkpoint_id, 2u);
  EXPECT_EQ(outcome->error, "unable to write checkpoint 2 to " +
                                (store.worker_folder() / test::name_of(2, "delta")).string() + ": is a directory");
  // The writer goes on: the next (full) checkpoint succeeds.
  writer.submit(snapshot_of(3, true));
  EXPECT_TRUE(writer.wait()->ok);
}

TEST(CheckpointWriter, DestructorWaitsForTheWriteInProgress) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  {
    CheckpointWriter writer(store, nullptr);
    writer.submit(snapshot_of(1, true));
  }
  std::vector<std::string> skipped;
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->checkpoint_id, 1u);
}

}  // namespace
}  // namespace roo::checkpoint
