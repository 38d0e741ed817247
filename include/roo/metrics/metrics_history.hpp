#pragma once

#include "roo/metrics/worker_metrics.hpp"

#include <chrono>
#include <deque>

namespace roo::metrics {

/// A worker's recent snapshots (one per period, the last five minutes of them), from which its counters' rates and
/// its histograms' last-five-minutes part (HistogramSample::recent: Wallaroo's Metrics UI window) come.
/// One thread (the metrics thread).
class MetricsHistory {
 public:
  explicit MetricsHistory(std::chrono::nanoseconds span = std::chrono::minutes(5)) : span_(span) {}

  /// Adds the snapshot taken now and returns it with its rates (per second since the previous snapshot) and each
  /// histogram's part since the oldest snapshot within the span (all of it while the worker is younger than that).
  [[nodiscard]] WorkerMetrics add(WorkerMetrics now);
  /// The latest add()'s result (empty before the first).
  [[nodiscard]] const WorkerMetrics& latest() const { return latest_; }

 private:
  std::chrono::nanoseconds span_;
  std::deque<WorkerMetrics> kept_;
  WorkerMetrics latest_;
};

}  // namespace roo::metrics
