#pragma once

#include "roo/checkpoint/snapshot.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roo::checkpoint {

struct StoreConfig {
  std::filesystem::path dir;  ///< --checkpoint-dir / --resilience-dir; must exist (it is not created)
  CheckpointIdentity identity;
  /// A worker's chain (one full snapshot and the incremental ones after it) is compacted into one full snapshot
  /// when it would grow longer than this, or when its incremental files together outgrow its full one.
  std::size_t max_chain = 16;
};

/// One snapshot file of a worker's chain, as a manifest names it.
struct ChainFile {
  std::string name;  ///< in the worker's folder: "snapshot-<id, 20 digits>.full" or ".delta"
  std::uint64_t size = 0;
  std::uint32_t crc32 = 0;  ///< of every byte before the file's own CRC-32 (its trailer's last 4 bytes)
};

/// What writing one checkpoint did.
struct CommitResult {
  std::uint64_t checkpoint_id = 0;
  std::size_t bytes_written = 0;  ///< this checkpoint's files (snapshot + manifest), compaction included
  std::size_t state_entries = 0;  ///< records written for this checkpoint (before compaction)
  bool compacted = false;         ///< the chain was merged into one full snapshot
  std::chrono::steady_clock::duration took{};
};

/// A complete checkpoint that can be restored.
struct RecoveryPoint {
  std::uint64_t checkpoint_id = 0;
  std::vector<std::filesystem::path> chain;  ///< this worker's snapshot files, oldest (the full one) first
};

/// The checkpoint files of one worker in one directory, and the manifests that say which checkpoints are complete.
///
/// Layout (all names fixed; `<app>` is the app name made safe for a file name):
///   DIR/<app>.roo-checkpoints/manifest-<id, 20 digits>.json      written last: the checkpoint is complete
///   DIR/<app>.roo-checkpoints/<worker>/snapshot-<id>.full|.delta  one file per snapshot
/// A snapshot file: a header (magic "ROOSNAP1", format version, checkpoint id, full or not, the identity), the
/// records, and a trailer (record count, CRC-32 of everything before it). A manifest: JSON with the identity,
/// the checkpoint id and, per worker, the chain of files with each one's size and CRC-32. Both are written to a
/// temporary name, fsynced, renamed, and the directory fsynced. The newest two complete checkpoints are kept;
/// files no kept manifest names are removed. Not thread-safe: one thread (the CheckpointWriter's) uses it.
class CheckpointStore {
 public:
  /// Creates the checkpoint folders if missing. Throws core::Error naming the directory and the cause
  /// ("unable to use checkpoint directory /x: permission denied") when it cannot.
  explicit CheckpointStore(StoreConfig config);

  /// Writes `snapshot` durably (file, fsync), then commits it as complete: the manifest for its id naming this
  /// worker's chain (compacted first when the chain is too long), then the old files are removed. Throws
  /// core::Error with one line ("unable to write checkpoint 12 to /x/...: no space left on device") when any step
  /// fails; the previous complete checkpoint stays intact and restorable, and the next write starts a new chain
  /// with a full snapshot only if the caller says so (see needs_full()).
  CommitResult write_and_commit(const Snapshot& snapshot);

  /// True when the next snapshot must be full: no complete checkpoint yet in this run's chain, or the last write
  /// failed (its changes are in no file, so an incremental snapshot on top would miss them).
  [[nodiscard]] bool needs_full() const;

  /// The newest complete checkpoint whose files are all present and intact (size and CRC-32 as the manifest says);
  /// each newer one skipped is described in `skipped` ("checkpoint 12: snapshot-12.delta is truncated"). nullopt
  /// when there is none. Throws core::Error when the folder holds checkpoints of another identity (one line naming
  /// both apps / fingerprints). After it, the next write_and_commit continues that checkpoint's chain with ids
  /// above it.
  [[nodiscard]] std::optional<RecoveryPoint> latest_complete(std::vector<std::string>& skipped);

  /// Reads `point`'s chain back: every state entry once, with its newest value (a later file's record replaces
  /// an earlier one of the same table and key), then the newest position of each source. Throws core::Error when
  /// a file cannot be read or does not verify.
  void read(const RecoveryPoint& point,
            const std::function<void(std::uint32_t table, std::uint32_t key_group, std::string_view key,
                                     std::string_view value)>& on_state,
            const std::function<void(std::uint32_t source, std::string_view position)>& on_source) const;

  /// Removes every checkpoint file of this worker and, when no worker's files remain, the manifests and folder
  /// (machida's clean shutdown: Wallaroo removes its recovery files).
  void remove_all();

  [[nodiscard]] const std::filesystem::path& folder() const { return folder_; }
  /// DIR/<app>.roo-checkpoints/<worker>: this worker's snapshot files.
  [[nodiscard]] const std::filesystem::path& worker_folder() const { return worker_folder_; }

 private:
  ChainFile write_snapshot(const Snapshot& snapshot, std::filesystem::path& writing);
  [[nodiscard]] bool needs_compaction(const std::vector<ChainFile>& chain) const;
  ChainFile compact(const std::vector<ChainFile>& chain, std::uint64_t checkpoint_id, std::filesystem::path& writing);
  std::size_t commit_manifest(std::uint64_t checkpoint_id, const std::vector<ChainFile>& chain);
  void remove_unkept(std::uint64_t checkpoint_id);
  [[nodiscard]] std::string problem_of(const ChainFile& file) const;
  void check_identity(const std::string& app_name, const std::string& fingerprint,
                      const std::filesystem::path& where) const;

  StoreConfig config_;
  std::filesystem::path folder_;
  std::filesystem::path worker_folder_;
  std::vector<ChainFile> chain_;  ///< this worker's chain as of the last complete checkpoint of this run
  bool chain_ok_ = false;         ///< chain_ can be extended by an incremental snapshot
  std::uint64_t last_id_ = 0;     ///< the last checkpoint this run committed or recovered
};

}  // namespace roo::checkpoint
