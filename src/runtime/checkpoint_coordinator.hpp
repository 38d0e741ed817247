#pragma once

#include "generator_source.hpp"
#include "pipeline_runner.hpp"

#include "roo/checkpoint/checkpoint_store.hpp"
#include "roo/checkpoint/checkpoint_writer.hpp"
#include "roo/core/doorbell.hpp"
#include "roo/runtime/worker.hpp"
#include "roo/state/keyed_state_table.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace roo::runtime {

/// Takes this worker's checkpoints and restores the newest one at start (docs/resilience.md).
///
/// A checkpoint is taken between two executor turns: with one executor running every source, stage and sink, that
/// moment is a consistent cut (every event before it fully processed, none after it started). At the cut the
/// coordinator serializes the state of the keys changed since the last checkpoint and the generators' positions
/// (the executor's pause), then the CheckpointWriter writes and commits the files on its own thread while the
/// stream goes on. One checkpoint is in flight at a time; a failed one is logged in one line and the next one,
/// taken in full, retries.
///
/// Lives on the Python executor (the GIL held), except that the writer thread rings `doorbell` when a write ends.
class CheckpointCoordinator {
 public:
  CheckpointCoordinator(const CheckpointOptions& options, checkpoint::CheckpointIdentity identity,
                        const graph::Plan& plan, PipelineRunner& runner, std::vector<GeneratorSource>& generators, core::Doorbell& doorbell);
  ~CheckpointCoordinator();
  CheckpointCoordinator(const CheckpointCoordinator&) = delete;
  CheckpointCoordinator& operator=(const CheckpointCoordinator&) = delete;

  /// Before any input: restores the newest complete checkpoint, if there is one (state of every key, generator
  /// positions), logging when the recovery starts and ends. Throws core::Error when the files belong to another
  /// application or cannot be read back.
  void recover();
  /// Every executor turn: logs a write that ended; takes the next checkpoint when it is due and none is in flight.
  void on_turn(std::chrono::steady_clock::time_point now);
  /// After a clean stop: one last checkpoint, waited for, so a restart continues exactly where the stop left off.
  void checkpoint_and_wait();
  /// machida's clean shutdown: removes the checkpoint files, as Wallaroo removes its recovery files.
  void remove_files();

 private:
  /// Takes a checkpoint at this cut; with `even_if_unchanged` false, none when nothing changed since the last one.
  void take_checkpoint(bool even_if_unchanged);
  void report(const checkpoint::CheckpointOutcome& outcome);

  const CheckpointOptions& options_;
  PipelineRunner& runner_;
  std::vector<GeneratorSource>& generators_;
  checkpoint::CheckpointStore store_;
  std::optional<checkpoint::CheckpointWriter> writer_;
  state::StateCodec codec_;
  python::PyRef dump_position_;
  python::PyRef load_position_;
  std::uint64_t next_id_ = 1;
  std::chrono::steady_clock::time_point next_due_;
  std::chrono::steady_clock::duration last_pause_{};
  std::uint64_t in_flight_ = 0;  ///< the id being written (0: none)
  std::vector<std::string> last_positions_;  ///< the generators' serialized positions in the last checkpoint
};

}  // namespace roo::runtime
