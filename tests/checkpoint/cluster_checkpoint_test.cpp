// The store's cluster side: the initializer's cluster marks, a worker's chain of a chosen checkpoint, retention that
// keeps the newest checkpoint complete everywhere, and channel batches that belong to their own checkpoint.
#include "checkpoint_test_support.hpp"

#include "roo/checkpoint/checkpoint_store.hpp"
#include "roo/checkpoint/checkpoint_writer.hpp"
#include "roo/core/error.hpp"

#include <gtest/gtest.h>

namespace roo::checkpoint {
namespace {

using test::files_in;
using test::TempDir;

Snapshot part(std::uint64_t id, bool full, const std::string& value) {
  Snapshot snapshot(id, full);
  snapshot.add_state(0, 1, "k", value);
  return snapshot;
}

std::string value_of(const CheckpointStore& store, const RecoveryPoint& point) {
  return test::restore(store, point).state.at({0, "k"}).second;
}

TEST(ClusterCheckpointStore, TheInitializerRestoresOnlyCheckpointsEveryWorkerCompleted) {
  TempDir dir;
  StoreConfig config = test::config_in(dir.path(), "app", "initializer");
  config.cluster_initializer = true;
  CheckpointStore store(config);
  (void)store.write_and_commit(part(1, true, "one"));
  store.mark_cluster_complete(1, "initializer\nw1\n");
  (void)store.write_and_commit(part(2, false, "two"));  // w1's part of 2 never arrived
  std::vector<std::string> skipped;
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->checkpoint_id, 1u);
  EXPECT_EQ(skipped, std::vector<std::string>{"checkpoint 2: not complete on every worker"});
  EXPECT_EQ(value_of(store, *point), "one");
  EXPECT_EQ(store.cluster_layout(1), "initializer\nw1\n");  // what the runtime recorded, as it wrote it
  EXPECT_EQ(store.cluster_layout(2), "");
}

TEST(ClusterCheckpointStore, AWorkerReadsTheChainOfTheCheckpointItIsTold) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path(), "app", "w1"));
  (void)store.write_and_commit(part(1, true, "one"));
  (void)store.write_and_commit(part(2, false, "two"));
  std::string problem;
  auto point = store.point_of(1, problem);
  ASSERT_TRUE(point.has_value()) << problem;
  EXPECT_EQ(value_of(store, *point), "one");
  // After point_of(1) the next part continues checkpoint 1's chain.
  (void)store.write_and_commit(part(2, false, "two again"));
  point = store.point_of(2, problem);
  ASSERT_TRUE(point.has_value()) << problem;
  EXPECT_EQ(value_of(store, *point), "two again");
  auto missing = store.point_of(5, problem);
  EXPECT_FALSE(missing.has_value());
  EXPECT_EQ(problem, "manifest-00000000000000000005.json is missing");
}

TEST(ClusterCheckpointStore, RetentionKeepsTheCheckpointCompleteEverywhere) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path(), "app", "w1"));
  (void)store.write_and_commit(part(1, true, "one"));
  store.protect(1);
  // Parts 2 and 3 are durable here, but no checkpoint after 1 completed on every worker.
  (void)store.write_and_commit(part(2, true, "two"));
  (void)store.write_and_commit(part(3, true, "three"));
  std::string problem;
  auto point = store.point_of(1, problem);
  ASSERT_TRUE(point.has_value()) << problem;
  EXPECT_EQ(value_of(store, *point), "one");
  // The checkpoint just written, the newest older one, and the one complete everywhere.
  EXPECT_EQ(files_in(store.worker_folder()),
            (std::vector<std::string>{"snapshot-00000000000000000001.full", "snapshot-00000000000000000002.full",
                                      "snapshot-00000000000000000003.full"}));
  store.protect(3);
  (void)store.write_and_commit(part(4, true, "four"));
  EXPECT_EQ(files_in(store.worker_folder()),
            (std::vector<std::string>{"snapshot-00000000000000000003.full", "snapshot-00000000000000000004.full"}));
}

TEST(ClusterCheckpointStore, ClusterMarksGoWithTheirCheckpoints) {
  TempDir dir;
  StoreConfig config = test::config_in(dir.path(), "app", "initializer");
  config.cluster_initializer = true;
  CheckpointStore store(config);
  for (std::uint64_t id = 1; id <= 4; ++id) {
    (void)store.write_and_commit(part(id, true, std::to_string(id)));
    store.mark_cluster_complete(id, "initializer\n");
    store.protect(id);
  }
  (void)store.write_and_commit(part(5, true, "5"));  // retention runs after each write
  EXPECT_EQ(files_in(store.folder()),
            (std::vector<std::string>{".lock", "cluster-00000000000000000004.complete",
                                      "manifest-00000000000000000004.json", "manifest-00000000000000000005.json"}));
}

TEST(ClusterCheckpointStore, TheInitializerTakesACheckpointItWroteAloneWithoutAMark) {
  TempDir dir;
  {
    CheckpointStore alone(test::config_in(dir.path(), "app", "initializer"));  // before it was a cluster's initializer
    (void)alone.write_and_commit(part(1, true, "one"));
  }
  StoreConfig config = test::config_in(dir.path(), "app", "initializer");
  config.cluster_initializer = true;
  config.unmarked_alone = true;  // a cluster started with this worker alone
  CheckpointStore store(config);
  std::vector<std::string> skipped;
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->checkpoint_id, 1u);
  EXPECT_TRUE(skipped.empty());
  EXPECT_EQ(value_of(store, *point), "one");
  (void)store.write_and_commit(part(2, true, "two"));  // a part of a cluster's checkpoint that never completed
  CheckpointStore other_worker(test::config_in(dir.path(), "app", "w1"));
  (void)other_worker.write_and_commit(part(2, true, "w1's"));
  point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->checkpoint_id, 1u);
  EXPECT_EQ(skipped, std::vector<std::string>{"checkpoint 2: not complete on every worker"});
  // Once the folder holds a mark, a manifest naming this worker alone may be a part whose peers never wrote theirs.
  store.mark_cluster_complete(2, "layout");
  (void)store.write_and_commit(part(3, true, "three"));
  skipped.clear();
  point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->checkpoint_id, 2u);
  EXPECT_EQ(skipped, std::vector<std::string>{"checkpoint 3: not complete on every worker"});
}

TEST(ClusterCheckpointStore, AWorkerThatRestoresNothingStartsItsChainOverWithAnyId) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path(), "app", "w1"));
  (void)store.write_and_commit(part(7, true, "before a rollback"));
  store.start_over();  // the cluster formed again from checkpoint 5, which this worker (a joiner) was not in
  EXPECT_TRUE(store.needs_full());
  EXPECT_THROW((void)store.write_and_commit(part(6, false, "incremental")), core::Error);
  (void)store.write_and_commit(part(6, true, "after"));
  std::string problem;
  auto point = store.point_of(6, problem);
  ASSERT_TRUE(point.has_value()) << problem;
  EXPECT_EQ(value_of(store, *point), "after");
}

TEST(ClusterCheckpointStore, ChannelBatchesComeFromTheNewestFileOnly) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path(), "app", "w1"));
  Snapshot first = part(1, true, "one");
  first.add_channel_batch(2, "in flight at 1");
  (void)store.write_and_commit(first);
  Snapshot second = part(2, false, "two");
  second.add_channel_batch(0, "in flight at 2, first");
  second.add_channel_batch(2, "in flight at 2, second");
  (void)store.write_and_commit(second);
  std::string problem;
  auto point = store.point_of(2, problem);
  ASSERT_TRUE(point.has_value()) << problem;
  std::vector<std::string> channels;
  store.read(
      *point, [](auto, auto, auto, auto) {}, [](auto, auto) {},
      [&](std::uint32_t from, std::string_view bytes) {
        channels.push_back(std::to_string(from) + ": " + std::string(bytes));
      });
  EXPECT_EQ(channels, (std::vector<std::string>{"0: in flight at 2, first", "2: in flight at 2, second"}));
}

}  // namespace
}  // namespace roo::checkpoint

namespace roo::checkpoint {
namespace {

// Two live processes with one worker's identity would interleave their writes: the second is refused in one line.
TEST(CheckpointStoreOwner, ASecondStoreOfTheSameWorkerIsRefusedWhileTheFirstLives) {
  test::TempDir dir;
  auto first = std::make_unique<CheckpointStore>(test::config_in(dir.path(), "app", "w1"));
  first->claim();
  try {
    CheckpointStore second(test::config_in(dir.path(), "app", "w1"));
    second.claim();
    FAIL() << "two stores of worker w1";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "use checkpoint directory " + dir.path().string() +
                  ": worker 'w1' of app 'app' is running already with these files (another process holds " +
                  (dir.path() / "app.roo-checkpoints" / ".owner-w1").string() + ")");
  }
  CheckpointStore other_worker(test::config_in(dir.path(), "app", "w2"));  // another worker: fine
  other_worker.claim();
  first.reset();
  CheckpointStore again(test::config_in(dir.path(), "app", "w1"));  // the first is gone: fine
  again.claim();
}

}  // namespace
}  // namespace roo::checkpoint

namespace roo::checkpoint {
namespace {

// With compact_separately, a write never merges the chain; compact_if_needed() does, after, and the checkpoint's
// manifest then names the one full file (same state).
TEST(CheckpointStoreCompaction, CompactsAfterTheCommitWhenAskedTo) {
  test::TempDir dir;
  StoreConfig config = test::config_in(dir.path(), "app", "w1");
  config.compact_separately = true;
  config.max_chain = 2;
  CheckpointStore store(config);
  (void)store.write_and_commit(part(1, true, "one"));
  EXPECT_EQ(store.compact_if_needed(), 0u);
  (void)store.write_and_commit(part(2, false, "two"));
  EXPECT_FALSE(store.write_and_commit(part(3, false, "three")).compacted);
  EXPECT_GT(store.compact_if_needed(), 0u);
  std::string problem;
  auto point = store.point_of(3, problem);
  ASSERT_TRUE(point.has_value()) << problem;
  EXPECT_EQ(point->chain,
            std::vector<std::filesystem::path>{store.worker_folder() / "snapshot-00000000000000000003.full"});
  EXPECT_EQ(value_of(store, *point), "three");
}

TEST(CheckpointStoreCompaction, TheWriterCompactsAfterReportingAndWaitIdleWaitsForIt) {
  test::TempDir dir;
  StoreConfig config = test::config_in(dir.path(), "app", "w1");
  config.compact_separately = true;
  config.max_chain = 1;
  CheckpointStore store(config);
  CheckpointWriter writer(store, [] {});
  writer.submit(part(1, true, "one"));
  ASSERT_TRUE(writer.wait().has_value());
  writer.submit(part(2, false, "two"));
  auto outcome = writer.wait();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->ok) << outcome->error;
  writer.wait_idle();
  std::vector<std::string> skipped;
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->checkpoint_id, 2u);
  EXPECT_EQ(point->chain.size(), 1u);  // compacted into snapshot-2.full
  EXPECT_EQ(value_of(store, *point), "two");
}

}  // namespace
}  // namespace roo::checkpoint
