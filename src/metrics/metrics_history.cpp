#include "roo/metrics/metrics_history.hpp"

namespace roo::metrics {

WorkerMetrics MetricsHistory::add(WorkerMetrics now) {
  // The oldest snapshot still within the span is the window's start; older ones are dropped.
  while (kept_.size() > 1 && now.time_ns - kept_[1].time_ns >= span_.count()) {
    kept_.pop_front();
  }
  const WorkerMetrics* previous = kept_.empty() ? nullptr : &kept_.back();
  const WorkerMetrics* window_start =
      !kept_.empty() && now.time_ns - kept_.front().time_ns >= span_.count() ? &kept_.front() : nullptr;
  double seconds = previous != nullptr ? static_cast<double>(now.time_ns - previous->time_ns) / 1e9 : 0;
  for (auto& sample : now.values) {
    const ValueSample* before = previous != nullptr ? previous->value(sample.name, sample.labels) : nullptr;
    if (before != nullptr && seconds > 0 && sample.value >= before->value) {
      sample.rate = (sample.value - before->value) / seconds;
    }
  }
  for (auto& sample : now.histograms) {
    const HistogramSample* before = previous != nullptr ? previous->histogram(sample.name, sample.labels) : nullptr;
    if (before != nullptr && seconds > 0 && sample.events >= before->events) {
      sample.rate = static_cast<double>(sample.events - before->events) / seconds;
    }
    const HistogramSample* start = window_start != nullptr ? window_start->histogram(sample.name, sample.labels) : nullptr;
    sample.recent = start != nullptr ? sample.latency.since(start->latency) : sample.latency;
  }
  kept_.push_back(now);
  kept_.back().values.shrink_to_fit();
  latest_ = now;
  return now;
}

}  // namespace roo::metrics
