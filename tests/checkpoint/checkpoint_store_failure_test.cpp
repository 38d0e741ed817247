// Bad input and a hostile disk: corrupt files, another app's files, an unwritable or full directory.
#include "roo/checkpoint/checkpoint_store.hpp"

#include "checkpoint_test_support.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace roo::checkpoint {
namespace {

using test::manifest_of;
using test::name_of;
using test::restore;
using test::TempDir;

Snapshot snapshot_of(std::uint64_t id, bool full, const std::string& value) {
  Snapshot snapshot(id, full);
  snapshot.add_state(0, 1, "key", value);
  snapshot.add_source_position(0, "at " + std::to_string(id));
  return snapshot;
}

std::string value_in(const CheckpointStore& store, const RecoveryPoint& point) {
  return restore(store, point).state.at({0, "key"}).second;
}

// Two complete checkpoints: 1 (full) and 2 (a delta on it).
class CorruptCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    CheckpointStore store(test::config_in(dir_.path()));
    (void)store.write_and_commit(snapshot_of(1, true, "one"));
    (void)store.write_and_commit(snapshot_of(2, false, "two"));
  }

  // Recovers with a fresh store; expects checkpoint 1 and exactly `skipped_line` for checkpoint 2.
  void expect_fallback_to_1(const std::string& skipped_line) {
    CheckpointStore store(test::config_in(dir_.path()));
    std::vector<std::string> skipped;
    auto point = store.latest_complete(skipped);
    ASSERT_TRUE(point.has_value());
    EXPECT_EQ(point->checkpoint_id, 1u);
    EXPECT_EQ(skipped, std::vector<std::string>{skipped_line});
    EXPECT_EQ(value_in(store, *point), "one");
    EXPECT_EQ(restore(store, *point).sources.at(0), "at 1");
    // The store goes on from checkpoint 1's chain.
    (void)store.write_and_commit(snapshot_of(3, false, "three"));
    point = store.latest_complete(skipped);
    ASSERT_TRUE(point.has_value());
    EXPECT_EQ(point->checkpoint_id, 3u);
    EXPECT_EQ(value_in(store, *point), "three");
  }

  std::filesystem::path folder() const { return dir_.path() / "word_count.roo-checkpoints"; }
  std::filesystem::path delta_2() const { return folder() / "worker1" / name_of(2, "delta"); }

  TempDir dir_;
};

TEST_F(CorruptCheckpoint, TornNewestManifestFallsBackToThePreviousCheckpoint) {
  std::filesystem::path manifest = folder() / manifest_of(2);
  std::filesystem::resize_file(manifest, std::filesystem::file_size(manifest) / 2);
  expect_fallback_to_1("checkpoint 2: " + manifest_of(2) + " is not a valid manifest (torn or corrupt)");
}

TEST_F(CorruptCheckpoint, TruncatedSnapshotFallsBackToThePreviousCheckpoint) {
  auto size = std::filesystem::file_size(delta_2());
  std::filesystem::resize_file(delta_2(), size - 3);
  expect_fallback_to_1("checkpoint 2: " + name_of(2, "delta") + " is truncated (" + std::to_string(size - 3) +
                       " of " + std::to_string(size) + " bytes)");
}

TEST_F(CorruptCheckpoint, FlippedByteFallsBackToThePreviousCheckpoint) {
  std::fstream file(delta_2(), std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(-20, std::ios::end);
  char byte = 0;
  file.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x01);
  file.seekp(-20, std::ios::end);
  file.write(&byte, 1);
  file.close();
  expect_fallback_to_1("checkpoint 2: " + name_of(2, "delta") + " fails its CRC-32 check");
}

TEST_F(CorruptCheckpoint, MissingSnapshotFallsBackToThePreviousCheckpoint) {
  std::filesystem::remove(delta_2());
  expect_fallback_to_1("checkpoint 2: " + name_of(2, "delta") + " is missing");
}

TEST_F(CorruptCheckpoint, NothingRestorableWhenEveryCheckpointIsBroken) {
  std::filesystem::remove(folder() / "worker1" / name_of(1, "full"));
  CheckpointStore store(test::config_in(dir_.path()));
  std::vector<std::string> skipped;
  EXPECT_FALSE(store.latest_complete(skipped).has_value());
  EXPECT_EQ(skipped, (std::vector<std::string>{"checkpoint 2: " + name_of(1, "full") + " is missing",
                                               "checkpoint 1: " + name_of(1, "full") + " is missing"}));
  EXPECT_TRUE(store.needs_full());
}

TEST(CheckpointStoreIdentity, RefusesAnotherAppsCheckpointsNamingBoth) {
  TempDir dir;
  CheckpointStore theirs(test::config_in(dir.path(), "word count"));
  (void)theirs.write_and_commit(snapshot_of(1, true, "theirs"));
  // "word count" and "word_count" share a folder name; the manifest tells them apart.
  CheckpointStore ours(test::config_in(dir.path(), "word_count"));
  std::vector<std::string> skipped;
  try {
    (void)ours.latest_complete(skipped);
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "restore from " + (ours.folder() / manifest_of(1)).string() +
                  ": it holds checkpoints of app 'word count' (fingerprint 'f1'), this is app 'word_count' "
                  "(fingerprint 'f1')");
  }
}

TEST(CheckpointStoreIdentity, RefusesAnotherPipelineShapeNamingBothFingerprints) {
  TempDir dir;
  CheckpointStore before(test::config_in(dir.path(), "word_count", "worker1", "shape-a"));
  (void)before.write_and_commit(snapshot_of(1, true, "v"));
  CheckpointStore after(test::config_in(dir.path(), "word_count", "worker1", "shape-b"));
  std::vector<std::string> skipped;
  try {
    (void)after.latest_complete(skipped);
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "restore from " + (after.folder() / manifest_of(1)).string() +
                  ": it holds checkpoints of app 'word_count' (fingerprint 'shape-a'), this is app 'word_count' "
                  "(fingerprint 'shape-b')");
  }
}

TEST(CheckpointStoreIdentity, RefusesAnotherWorkersFiles) {
  TempDir dir;
  CheckpointStore other(test::config_in(dir.path(), "word_count", "worker2"));
  (void)other.write_and_commit(snapshot_of(1, true, "v"));
  // worker2's files put in worker1's place, and the manifest pointed at them.
  std::filesystem::path folder = other.folder();
  std::filesystem::rename(folder / "worker2", folder / "worker1");
  std::ifstream in(folder / manifest_of(1));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("\"worker2\""), 9, "\"worker1\"");
  std::ofstream(folder / manifest_of(1), std::ios::trunc) << text;
  CheckpointStore ours(test::config_in(dir.path(), "word_count", "worker1"));
  std::vector<std::string> skipped;
  try {
    (void)ours.latest_complete(skipped);
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()), "restore from " + (folder / "worker1" / name_of(1, "full")).string() +
                                             ": it holds the checkpoint of worker 'worker2', this is worker 'worker1'");
  }
}

TEST(CheckpointStoreDirectory, MissingDirectoryIsNotCreated) {
  TempDir dir;
  std::filesystem::path missing = dir.path() / "missing";
  try {
    CheckpointStore store(test::config_in(missing));
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "use checkpoint directory " + missing.string() + ": no such file or directory");
  }
  EXPECT_FALSE(std::filesystem::exists(missing));
}

TEST(CheckpointStoreDirectory, DirectoryUnderARegularFileFailsEvenForRoot) {
  TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  std::filesystem::path under_file = dir.path() / "file" / "sub";
  try {
    CheckpointStore store(test::config_in(under_file));
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()), "use checkpoint directory " + under_file.string() + ": not a directory");
  }
}

TEST(CheckpointStoreDirectory, AFolderThatCannotBeListedIsAnErrorNotAFreshStart) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  std::filesystem::remove_all(store.folder());
  std::vector<std::string> skipped;
  try {
    (void)store.latest_complete(skipped);
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()), "restore from " + store.folder().string() + ": no such file or directory");
  }
}

// A write that fails keeps the previous complete checkpoint restorable, and the next snapshot must be full.
void expect_previous_intact(CheckpointStore& store, std::uint64_t previous_id, const std::string& value) {
  EXPECT_TRUE(store.needs_full());
  std::vector<std::string> skipped;
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_TRUE(skipped.empty());
  EXPECT_EQ(point->checkpoint_id, previous_id);
  EXPECT_EQ(value_in(store, *point), value);
}

TEST(CheckpointStoreDirectory, UnwritableFolderFailsTheCheckpointAndKeepsThePreviousOne) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  (void)store.write_and_commit(snapshot_of(1, true, "one"));
  ::chmod(store.worker_folder().c_str(), 0500);
  if (::access(store.worker_folder().c_str(), W_OK) == 0) {
    ::chmod(store.worker_folder().c_str(), 0755);
    GTEST_SKIP() << "running as root: mode 0500 does not stop writes (BlockedSnapshotName covers root)";
  }
  std::string expected = "write checkpoint 2 to " + (store.worker_folder() / name_of(2, "delta")).string() +
                         ": permission denied";
  try {
    (void)store.write_and_commit(snapshot_of(2, false, "two"));
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()), expected);
  }
  ::chmod(store.worker_folder().c_str(), 0755);
  expect_previous_intact(store, 1, "one");
}

TEST(CheckpointStoreDirectory, BlockedSnapshotNameFailsTheCheckpointAndKeepsThePreviousOne) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  (void)store.write_and_commit(snapshot_of(1, true, "one"));
  // A directory where the temporary file goes: open() fails even for root.
  std::filesystem::create_directory(store.worker_folder() / (name_of(2, "delta") + ".tmp"));
  try {
    (void)store.write_and_commit(snapshot_of(2, false, "two"));
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "write checkpoint 2 to " + (store.worker_folder() / name_of(2, "delta")).string() + ": is a directory");
  }
  expect_previous_intact(store, 1, "one");
  // The next checkpoint, full as needs_full() says, succeeds and clears the obstacle away.
  (void)store.write_and_commit(snapshot_of(3, true, "three"));
  EXPECT_EQ(test::files_in(store.worker_folder()),
            (std::vector<std::string>{name_of(1, "full"), name_of(3, "full")}));
}

TEST(CheckpointStoreDirectory, FailedManifestFailsTheCheckpointAndRemovesItsSnapshot) {
  TempDir dir;
  CheckpointStore store(test::config_in(dir.path()));
  (void)store.write_and_commit(snapshot_of(1, true, "one"));
  std::filesystem::create_directory(store.folder() / (manifest_of(2) + ".worker1.tmp"));
  try {
    (void)store.write_and_commit(snapshot_of(2, false, "two"));
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "write checkpoint 2 to " + (store.folder() / manifest_of(2)).string() + ": is a directory");
  }
  EXPECT_EQ(test::files_in(store.worker_folder()), (std::vector<std::string>{name_of(1, "full")}));
  EXPECT_FALSE(std::filesystem::exists(store.folder() / manifest_of(2)));
  expect_previous_intact(store, 1, "one");
  (void)store.write_and_commit(snapshot_of(3, true, "three"));
  EXPECT_EQ(test::files_in(store.folder()), (std::vector<std::string>{".lock", manifest_of(1), manifest_of(3)}));
  EXPECT_FALSE(std::filesystem::exists(store.folder() / (manifest_of(2) + ".worker1.tmp")));
}

// A 64 KiB tmpfs of the test's own (tests run as root): a disk that fills up, or turns read-only.
class SmallTmpfs : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_point_ = dir_.path() / "small";
    std::filesystem::create_directory(mount_point_);
    if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=64k") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) {
      ::umount2(mount_point_.c_str(), MNT_DETACH);
    }
  }

  TempDir dir_;
  std::filesystem::path mount_point_;
  bool mounted_ = false;
};

TEST_F(SmallTmpfs, CheckpointThatDoesNotFitFailsAndThePreviousOneStays) {
  CheckpointStore store(test::config_in(mount_point_));
  (void)store.write_and_commit(snapshot_of(1, true, "one"));
  try {
    (void)store.write_and_commit(snapshot_of(2, true, std::string(200 * 1024, 'z')));
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()), "write checkpoint 2 to " +
                                             (store.worker_folder() / name_of(2, "full")).string() +
                                             ": no space left on device");
  }
  // The partial temporary file was removed: the space is free again.
  EXPECT_EQ(test::files_in(store.worker_folder()), (std::vector<std::string>{name_of(1, "full")}));
  expect_previous_intact(store, 1, "one");
  (void)store.write_and_commit(snapshot_of(3, true, "three"));
  std::vector<std::string> skipped;
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(value_in(store, *point), "three");
}

TEST_F(SmallTmpfs, ReadOnlyDirectoryFailsTheCheckpointEvenForRoot) {
  CheckpointStore store(test::config_in(mount_point_));
  (void)store.write_and_commit(snapshot_of(1, true, "one"));
  ASSERT_EQ(::mount(nullptr, mount_point_.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0)
      << std::strerror(errno);
  try {
    (void)store.write_and_commit(snapshot_of(2, false, "two"));
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()), "write checkpoint 2 to " +
                                             (store.worker_folder() / name_of(2, "delta")).string() +
                                             ": read-only file system");
  }
  expect_previous_intact(store, 1, "one");
  ASSERT_EQ(::mount(nullptr, mount_point_.c_str(), nullptr, MS_REMOUNT, nullptr), 0) << std::strerror(errno);
  (void)store.write_and_commit(snapshot_of(3, true, "three"));
  std::vector<std::string> skipped;
  auto point = store.latest_complete(skipped);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->checkpoint_id, 3u);
}

}  // namespace
}  // namespace roo::checkpoint
