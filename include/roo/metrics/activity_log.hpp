#pragma once

#include "roo/metrics/worker_metrics.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace roo::metrics {

/// What one worker did between two of its snapshots: what the activity log line says.
struct Activity {
  double seconds = 0;            ///< between the two snapshots
  double in_rate = 0;            ///< events per second read by this worker's sources
  double out_rate = 0;           ///< outputs per second handed to its sinks
  std::uint64_t processed = 0;   ///< events that entered any step meanwhile
  double executor_queue = 0;     ///< source batches waiting for the executor, now
  double peer_queue = 0;         ///< batches from other workers waiting for it, now
  double sink_queue_bytes = 0;   ///< bytes the sinks hold (unwritten, or kept for a resend), now
  double sink_queue_change = 0;  ///< how much that changed meanwhile
  double paused_seconds = 0;     ///< time the sources spent paused by backpressure meanwhile
  std::uint64_t failed = 0;      ///< events a step failed on meanwhile
  std::uint64_t lost = 0;        ///< events lost meanwhile
  std::optional<std::uint64_t> pipeline_p99_ns;  ///< p99 start-to-end of the events timed meanwhile, all pipelines
  bool queued_before = false;    ///< batches waited for the executor at the first snapshot too
  double executor_turn_seconds = 0;  ///< how long the executor's current turn has lasted, now

  /// Batches wait for the executor. (The sinks' bytes are no backlog: a TCP sink keeps what it wrote until the
  /// peer has it, and up to half its budget beyond that for a resend, also while idle.)
  [[nodiscard]] bool queued() const { return executor_queue > 0 || peer_queue > 0; }
  /// Nothing in, out or processed, nothing queued, paused or failed, the sinks' bytes unchanged: no line.
  [[nodiscard]] bool idle() const;
  /// The executor is stuck: nothing was processed or written in between, and either it has not come round its loop
  /// since the first snapshot (a step that does not return; sinks that take nothing), or batches waited for it at
  /// both snapshots.
  [[nodiscard]] bool stalled() const;
  /// The executor has not come round its loop since the first snapshot.
  [[nodiscard]] bool stuck_turn() const { return seconds > 0 && executor_turn_seconds >= seconds; }
};

/// The activity between `before` and `now`, two snapshots of one worker (counters' differences, gauges' values now).
[[nodiscard]] Activity activity_between(const WorkerMetrics& before, const WorkerMetrics& now);

/// The line, e.g. "metrics: 1,203,455 events/s in, 1,203,001 out; p99 1.2 ms; backlog 0 batches, 0 from peers,
/// sink 12 KB, paused 0.0 s; 0 failed, 0 lost", starting "metrics: stalled: nothing processed in 10.0 s (the
/// executor has been in one step or wait for 31.0 s); ..." or "... in 10.0 s with batches waiting; ..." when
/// stalled.
[[nodiscard]] std::string activity_line(const Activity& activity);

/// The activity log line every `every` (MetricsOptions::log_every): fed each snapshot, it logs (roo.metrics, info;
/// warn when stalled) the activity since the snapshot of its last line, unless the worker was idle.
/// One thread (the metrics thread).
class ActivityLog {
 public:
  explicit ActivityLog(std::chrono::milliseconds every) : every_(every) {}

  void observe(const WorkerMetrics& now);

 private:
  std::chrono::milliseconds every_;
  std::optional<WorkerMetrics> since_;  ///< the snapshot the next line starts from
};

}  // namespace roo::metrics
