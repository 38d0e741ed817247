#pragma once

#include "checkpoint_files.hpp"
#include "checkpoint_inbox.hpp"
#include "generator_source.hpp"
#include "pipeline_runner.hpp"
#include "source_positions.hpp"
#include "state_codecs.hpp"
#include "transactional_sinks.hpp"

#include "roo/checkpoint/checkpoint_store.hpp"
#include "roo/checkpoint/checkpoint_writer.hpp"
#include "roo/cluster/cluster.hpp"
#include "roo/core/doorbell.hpp"
#include "roo/core/executor_input.hpp"
#include "roo/metrics/metrics_registry.hpp"
#include "roo/runtime/worker.hpp"
#include "roo/state/keyed_state_table.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace roo::runtime {

/// Where this worker sits among the workers that checkpoint together (alone: one worker, no cluster).
struct CheckpointPeers {
  cluster::Cluster* cluster = nullptr;
  std::size_t self = 0;
  std::vector<std::string> names;  ///< by worker index
  std::vector<bool> departed;      ///< by worker index: left the cluster (it takes no part)
  bool may_grow = false;           ///< a cluster that may grow checkpoints as a cluster even with one worker
  std::string layout;              ///< the membership as a checkpoint records it (layout_json)
  [[nodiscard]] bool alone() const { return names.size() <= 1 && !may_grow; }
  [[nodiscard]] bool initializer() const { return self == 0; }
  [[nodiscard]] bool takes_part(std::size_t worker) const {
    return worker < names.size() && !(worker < departed.size() && departed[worker]);
  }
  [[nodiscard]] std::size_t parts() const;
  /// One part makes the checkpoint (logged without "on N workers"; an idle one is not taken).
  [[nodiscard]] bool one_part() const { return parts() <= 1; }
  /// The workers of `membership`, this one's place among them and its layout.
  void adopt(const cluster::Membership& membership);
};

/// What takes part in a checkpoint besides keyed state and generators: the replayable sources (their positions at
/// the cut, committed to the source's system once the checkpoint is complete) and the transactional sinks.
struct CheckpointIo {
  std::vector<std::size_t> replayable;  ///< indexes of the replayable sources
  SourcePositions* positions = nullptr;
  TransactionalSinks* sinks = nullptr;  ///< null: no transactional sink
  /// A checkpoint is complete: these sources' positions at its cut are durable.
  std::function<void(const std::vector<std::pair<std::size_t, io::SourcePosition>>&)> commit_positions;
};

/// Takes this worker's checkpoints and restores one at start (docs/resilience.md).
///
/// The cut is Chandy–Lamport's. A worker takes its part of checkpoint n when the initializer asks (or, first, when a
/// peer's marker n arrives): between two executor turns, so every event before it is fully processed and none
/// after it has started. It hands over the events queued for other workers, serializes the state of the keys
/// changed since its last part and its generators' positions (the executor's pause), and sends marker n on every
/// data channel, after those events. Until a peer's marker n arrives, the batches that peer sent before its own
/// cut are still coming: each is processed as usual and also recorded in the part (the channel's state), so that a
/// recovery replays it. Then the CheckpointWriter writes the part on its own thread while the stream goes on, and
/// the initializer, once every part is durable, records the checkpoint complete and tells the others. No channel is
/// ever blocked: the workers' data channels form cycles, where aligned barriers would wait on each other.
///
/// Alone, the same with no peers: the part is the checkpoint. One checkpoint is in flight at a time; a failed one is
/// logged in one line and the next one retries (a full one after a failed write).
///
/// Lives on the Python executor (the GIL held).
class CheckpointCoordinator {
 public:
  /// `flush` hands the runner's outputs and the events queued for other workers over (Worker::hand_over_outputs).
  /// `codecs` (the worker's, outliving this) write and read the state tables.
  CheckpointCoordinator(const CheckpointOptions& options, PipelineRunner& runner, const StateCodecs& codecs,
                        std::vector<GeneratorSource>& generators, CheckpointFiles& files, CheckpointPeers peers,
                        std::function<void()> flush, CheckpointIo io = {});
  ~CheckpointCoordinator();
  CheckpointCoordinator(const CheckpointCoordinator&) = delete;
  CheckpointCoordinator& operator=(const CheckpointCoordinator&) = delete;

  /// The checkpoint the initializer of a cluster tells every worker to restore (0: none), before the cluster forms,
  /// and the cluster's layout it recorded (none from an earlier Roo). Logs each newer checkpoint skipped. Throws
  /// core::Error as recover() does.
  [[nodiscard]] static std::uint64_t newest_complete(CheckpointFiles& files,
                                                     std::optional<cluster::Membership>& layout);

  /// Before any input: restores checkpoint `id` (alone: the newest complete one; in a cluster: the one the
  /// membership names, 0 for none): every key's state, the generators' positions, then the batches that were in
  /// flight to this worker at that cut, run again. Logs when the recovery starts and ends. Throws core::Error when
  /// the files belong to another application or cannot be read back.
  void recover(std::uint64_t id);
  /// Every executor turn: takes the cluster's checkpoint messages and the writer's outcome; starts the next
  /// checkpoint when it is due (alone, or on the initializer).
  void on_turn(std::chrono::steady_clock::time_point now, CheckpointInbox& inbox);
  /// After the executor's loop ended (a cluster's exit): takes the checkpoint messages still waiting, so that a
  /// checkpoint completed just before the exit commits its transactional sinks' output before they stop.
  void take_last_messages(CheckpointInbox& inbox) { take_messages(inbox); }
  /// The cluster's membership changed (a worker joined; `moved`: a rescale moved key groups or workers left): the
  /// next checkpoints take part with it, and after a move this worker's next part is a full one (its chain holds
  /// keys it gave away, and the keys it took are in none of its files); the initializer takes that checkpoint soon.
  void membership_changed(const cluster::Membership& membership, bool moved);
  /// A peer's checkpoint marker (core::CheckpointMarker): checkpoint `id`'s cut on the channel from `from`.
  void on_marker(std::size_t from, std::uint64_t id);
  /// This worker's part waits for a peer's marker. The marker comes in-band, behind that peer's batches: the executor
  /// must take them even while its sinks are full, or a transactional sink, whose room comes back only with the
  /// commit, would wait for a checkpoint that waits for it.
  [[nodiscard]] bool awaiting_markers() const { return active_ && !active_->awaiting.empty(); }
  /// A batch of events from `from`, about to be processed: recorded while this worker's part waits for from's marker.
  void before_peer_data(std::size_t from, const core::PeerData& data) {
    if (active_ && active_->awaiting.contains(from)) {
      record(from, data);
    }
  }
  /// Alone, after a clean stop: one last checkpoint, waited for, so a restart continues where the stop left off.
  void checkpoint_and_wait();
  /// The initializer of a cluster that stops, once every worker is drained: takes one last checkpoint at once (after
  /// the one in flight), then calls `done` however it went.
  void take_last(std::function<void()> done);
  /// machida's clean shutdown: removes the checkpoint files, as Wallaroo removes its recovery files.
  void remove_files();
  /// Records checkpoints and recoveries in `registry` (docs/metrics.md): every worker counts the checkpoints it
  /// hears complete; the initializer (or a worker alone) times them and records their size. Call before recover().
  void measure(metrics::MetricsRegistry& registry);

 private:
  struct Meters {
    metrics::LatencyMeter* duration = nullptr;
    metrics::EventCount* completed = nullptr;
    metrics::EventCount* last_id = nullptr;
    metrics::EventCount* last_bytes = nullptr;
    metrics::EventCount* recoveries = nullptr;
  };
  Meters meters_;
  struct Part {
    std::uint64_t id = 0;
    std::optional<checkpoint::Snapshot> snapshot;  ///< empty when serializing failed
    std::string failure;                           ///< why, then
    std::set<std::size_t> awaiting;                ///< peers whose marker has not arrived
    std::size_t recorded_bytes = 0;
    bool awaiting_sinks = false;  ///< the transactional sinks have not handed their output over yet
  };
  struct Round {  ///< the initializer: one checkpoint, until every worker reported
    std::uint64_t id = 0;
    std::chrono::steady_clock::time_point started;
    std::map<std::size_t, std::pair<bool, std::string>> parts;
    std::string layout;  ///< the cluster's layout at its begin (peers_.layout)
  };

  void take_messages(CheckpointInbox& inbox);
  /// This worker's part of checkpoint `id`, at this cut.
  void begin_part(std::uint64_t id);
  void record(std::size_t from, const core::PeerData& data);
  void finish_part_if_ready();
  void take_outcome(const checkpoint::CheckpointOutcome& outcome);
  /// The transactional sinks' answer to the active part's prepare, once it came.
  void take_sinks_output();
  /// Checkpoint `id` is complete on every worker: its output and its sources' positions become durable elsewhere.
  void on_complete(std::uint64_t id);
  void wait_for_write();
  /// Waits (the GIL released) until the active part has its transactional sinks' output, or `give_up`.
  void wait_for_sinks_output(std::chrono::steady_clock::time_point give_up);
  void on_part(std::size_t worker, std::uint64_t id, bool ok, const std::string& text);
  void start_round(std::chrono::steady_clock::time_point now);
  void close_round(std::chrono::steady_clock::time_point now);
  /// Logs how a closed round went; complete: records it (cluster mark) and tells the other workers.
  void report_round(const Round& round, std::chrono::steady_clock::time_point now);
  /// Each generator's position, pickled (same order as generators_). Throws state::StateSerializationError.
  [[nodiscard]] std::vector<std::string> generator_positions();
  /// Serializes the changed state and the generators' positions into `part`.
  void serialize(Part& part);

  const CheckpointOptions& options_;
  PipelineRunner& runner_;
  const StateCodecs& codecs_;
  std::vector<GeneratorSource>& generators_;
  CheckpointFiles& files_;
  CheckpointPeers peers_;
  std::function<void()> flush_;
  CheckpointIo io_;
  /// The replayable sources' positions at each cut not yet complete (committed by on_complete).
  std::map<std::uint64_t, std::vector<std::pair<std::size_t, io::SourcePosition>>> cut_positions_;
  python::PyRef dump_position_;
  python::PyRef load_position_;
  std::uint64_t next_id_ = 1;   ///< alone / the initializer: the next checkpoint's id
  std::uint64_t begun_id_ = 0;  ///< the newest checkpoint whose part this worker has taken
  std::optional<Part> active_;  ///< this worker's part, until its last awaited marker came
  std::uint64_t writing_ = 0;   ///< the part being written (0: none)
  std::optional<Round> round_;  ///< alone / the initializer
  std::chrono::steady_clock::time_point next_due_;
  std::chrono::steady_clock::duration last_pause_{};
  std::vector<std::string> last_positions_;               ///< alone: the generators' positions in the last checkpoint
  std::map<std::size_t, std::string> last_io_positions_;  ///< the replayable sources' positions in the last one
  std::function<void()> after_last_;  ///< take_last(): called when the last checkpoint's round closes
  std::uint64_t last_round_ = 0;      ///< its id (0: not begun yet)
  bool full_next_ = false;       ///< the next part is a full one (a rescale moved key groups, or a part was dropped)
  std::uint64_t full_part_ = 0;  ///< the full part full_next_ asked for: once it is written, it is off
  bool completed_once_ = false;  ///< a cluster's checkpoint completed in this run
};

}  // namespace roo::runtime
