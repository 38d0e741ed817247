#pragma once

#include "roo/checkpoint/checkpoint_store.hpp"
#include "roo/checkpoint/snapshot.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace roo::checkpoint {

/// How one checkpoint's write ended.
struct CheckpointOutcome {
  std::uint64_t checkpoint_id = 0;
  bool ok = false;
  std::string error;  ///< when !ok: one line, e.g. "unable to write checkpoint 12 to /x/...: no space left on device"
  CommitResult result;  ///< when ok
};

/// Writes snapshots on a thread of its own, so the executor's pause at a checkpoint is only the time it takes to
/// build the Snapshot. One checkpoint in flight at a time. The executor calls submit() and take_outcome(); the
/// writer thread owns the CheckpointStore meanwhile (do not use the store while busy()).
class CheckpointWriter {
 public:
  /// `wake` is called on the writer thread after each write ends (e.g. to ring the executor's doorbell).
  CheckpointWriter(CheckpointStore& store, std::function<void()> wake);
  ~CheckpointWriter();  ///< waits for a write in progress, then stops the thread
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  /// Executor: true from submit() until take_outcome() has returned that write's outcome.
  [[nodiscard]] bool busy() const;
  /// Executor: starts writing `snapshot`. Precondition: !busy().
  void submit(Snapshot snapshot);
  /// Executor: the outcome of the write submitted last, once it has ended (then busy() is false again).
  [[nodiscard]] std::optional<CheckpointOutcome> take_outcome();
  /// Executor: waits for the write in progress (if any) and returns its outcome.
  [[nodiscard]] std::optional<CheckpointOutcome> wait();
  /// Executor: waits until the thread does nothing with the store any more (a compaction after the last write
  /// included); then the store may be used directly (e.g. to recover).
  void wait_idle();

 private:
  void run();
  [[nodiscard]] CheckpointOutcome write(Snapshot& snapshot);
  void compact();
  [[nodiscard]] std::optional<CheckpointOutcome> take_locked();

  CheckpointStore& store_;
  std::function<void()> wake_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<Snapshot> pending_;            ///< submitted, not yet picked up by the thread
  std::optional<CheckpointOutcome> outcome_;   ///< ended, not yet taken
  bool busy_ = false;
  bool compacting_ = false;  ///< after an outcome: the store's compact_if_needed() runs
  bool stopping_ = false;
  std::thread thread_;  ///< last: started once the members it uses exist
};

}  // namespace roo::checkpoint
