#pragma once

#include "roo/checkpoint/checkpoint_store.hpp"
#include "roo/checkpoint/checkpoint_writer.hpp"
#include "roo/core/doorbell.hpp"
#include "roo/runtime/worker.hpp"

namespace roo::runtime {

/// What outlives one run of the pipeline (a rollback builds a new runner and a new coordinator): this worker's
/// checkpoint files and the thread that writes them. Lives on the executor.
struct CheckpointFiles {
  /// `cluster_initializer`: the initializer of a cluster of several workers (it records which checkpoints every
  /// worker completed). `started_alone`: that
  /// cluster started with one worker (checkpoint::StoreConfig::unmarked_alone). `doorbell` is rung when a write ends.
  CheckpointFiles(const CheckpointOptions& options, checkpoint::CheckpointIdentity identity, bool cluster_initializer,
                  bool started_alone, core::Doorbell& doorbell);

  checkpoint::CheckpointStore store;
  checkpoint::CheckpointWriter writer;
};

}  // namespace roo::runtime
