#pragma once

#include "roo/checkpoint/snapshot.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
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
  /// The initializer of a cluster: a checkpoint counts as complete only once mark_cluster_complete() recorded that
  /// every worker's part is durable (docs/resilience.md, "Several workers").
  bool cluster_initializer = false;
  /// With cluster_initializer, for the initializer of a cluster started with one worker: until the folder holds a
  /// cluster mark, a manifest naming only this worker is complete without one (it was taken alone: by a run
  /// without a cluster, or an earlier Roo). Joiners wait for the cluster's first complete checkpoint (its mark), so
  /// no unmarked manifest of a cluster with several parts is taken for one.
  bool unmarked_alone = false;
  /// Compaction is left to compact_if_needed() (the CheckpointWriter runs it after reporting a checkpoint, so that a
  /// checkpoint completes without waiting for a merge of the whole state); otherwise write_and_commit compacts.
  bool compact_separately = false;
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
/// the checkpoint id, per worker the chain of files with each one's size and CRC-32, and last its own CRC-32 (a
/// damaged manifest is skipped, never taken for another application's). Both are written to a
/// temporary name, fsynced, renamed, and the directory fsynced. The newest two complete checkpoints are kept;
/// files no kept manifest names are removed. Not thread-safe: one thread (the CheckpointWriter's) uses it.
class CheckpointStore {
 public:
  /// Creates the checkpoint folders if missing. Throws core::Error naming the directory and the cause
  /// ("unable to use checkpoint directory /x: permission denied") when it cannot.
  explicit CheckpointStore(StoreConfig config);
  ~CheckpointStore();

  /// Holds this worker's files for as long as the store lives (an exclusive lock on
  /// DIR/<app>.roo-checkpoints/.owner-<worker>): a second live process with the same identity, e.g. a pod restarted
  /// while the old one still runs, would interleave its writes with the first's. Throws core::Error ("unable to use
  /// checkpoint directory /x: worker 'w1' of app 'a' is running already with these files (...)") when another
  /// process holds them. A worker calls it once, before reading or writing anything.
  void claim();

  /// Writes `snapshot` durably (file, fsync), then commits it as complete: the manifest for its id naming this
  /// worker's chain (compacted first when the chain is too long), then the old files are removed. Throws
  /// core::Error with one line ("unable to write checkpoint 12 to /x/...: no space left on device") when any step
  /// fails; the previous complete checkpoint stays intact and restorable, and the next write starts a new chain
  /// with a full snapshot only if the caller says so (see needs_full()).
  CommitResult write_and_commit(const Snapshot& snapshot);

  /// With compact_separately: merges this worker's chain into one full snapshot of the last committed checkpoint
  /// when it is too long (as write_and_commit would), and rewrites that checkpoint's manifest to name it (the old
  /// chain and the new file restore the same state; the rename makes the switch atomic). Returns the bytes written
  /// (0: nothing to do). Throws core::Error as write_and_commit does; the chain stays as it was then.
  std::size_t compact_if_needed();

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
            const std::function<void(std::uint32_t source, std::string_view position)>& on_source,
            const std::function<void(std::uint32_t from, std::string_view bytes)>& on_channel = {}) const;

  /// Several workers: this worker's intact chain of checkpoint `id` (the one the initializer chose), or nullopt
  /// with `problem` saying why not ("snapshot-12.delta is truncated"). Like latest_complete(), the next write
  /// continues that chain with ids above it.
  [[nodiscard]] std::optional<RecoveryPoint> point_of(std::uint64_t id, std::string& problem);
  /// Several workers: this worker restores nothing (a joiner, or a cluster without a complete checkpoint). Its next
  /// snapshot must be full and may take any id, whatever this process wrote before (a rollback).
  void start_over();
  /// Several workers, any thread: checkpoint `id` is complete on every worker. Retention keeps its files whatever
  /// this worker writes next (a part written later may belong to a checkpoint that never completes).
  void protect(std::uint64_t id) { protected_id_.store(id); }
  /// The initializer of a cluster: every worker's part of checkpoint `id` is durable. Written durably (a file
  /// "cluster-<id>.complete" holding `layout`, the cluster's workers and owners as the runtime writes them); throws
  /// core::Error with one line when it cannot be.
  void mark_cluster_complete(std::uint64_t id, std::string_view layout);
  /// What mark_cluster_complete recorded for checkpoint `id` ("" when there is no such file or it cannot be read).
  [[nodiscard]] std::string cluster_layout(std::uint64_t id) const;

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
  /// The initializer of a cluster: checkpoint `id` has its cluster mark, or (unmarked_alone, while the folder holds
  /// no mark) its manifest names this worker alone.
  [[nodiscard]] bool marked_or_alone(std::uint64_t id, const std::filesystem::path& manifest_path) const;
  /// The folder holds a cluster-<id>.complete.
  [[nodiscard]] bool any_cluster_mark() const;
  /// The chain `manifest` names for this worker, verified; "" and the point, or the problem.
  [[nodiscard]] std::string verified_point(std::uint64_t id, const std::filesystem::path& path,
                                           std::optional<RecoveryPoint>& point);
  void check_identity(const std::string& app_name, const std::string& fingerprint,
                      const std::filesystem::path& where) const;

  StoreConfig config_;
  std::filesystem::path folder_;
  std::filesystem::path worker_folder_;
  std::vector<ChainFile> chain_;  ///< this worker's chain as of the last complete checkpoint of this run
  bool chain_ok_ = false;         ///< chain_ can be extended by an incremental snapshot
  std::uint64_t last_id_ = 0;     ///< the last checkpoint this run committed or recovered
  std::atomic<std::uint64_t> protected_id_{0};
  std::unique_ptr<class FolderLock> owner_;  ///< held while this store lives
};

}  // namespace roo::checkpoint
