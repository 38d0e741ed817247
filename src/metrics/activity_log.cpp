#include "roo/metrics/activity_log.hpp"

#include "roo/core/logging.hpp"
#include "roo/metrics/metric_catalogue.hpp"
#include "roo/metrics/readable_units.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace roo::metrics {
namespace {

/// The sum of every value named `name`, whatever its labels.
double value_sum(const WorkerMetrics& metrics, std::string_view name) {
  double sum = 0;
  for (const auto& sample : metrics.values) {
    if (sample.name == name) {
      sum += sample.value;
    }
  }
  return sum;
}

/// How much a counter summed over its labels grew; never negative (a counter that went away counts as 0).
double growth(const WorkerMetrics& before, const WorkerMetrics& now, std::string_view name) {
  return std::max(value_sum(now, name) - value_sum(before, name), 0.0);
}

std::uint64_t whole(double value) { return static_cast<std::uint64_t>(std::llround(value)); }

std::uint64_t events_in_steps(const WorkerMetrics& metrics) {
  std::uint64_t sum = 0;
  for (const auto& sample : metrics.histograms) {
    if (sample.name == step_latency) {
      sum += sample.events;
    }
  }
  return sum;
}

/// The start-to-end latencies of every pipeline timed between the two snapshots, merged.
HistogramSnapshot pipeline_latencies_between(const WorkerMetrics& before, const WorkerMetrics& now) {
  HistogramSnapshot merged;
  for (const auto& sample : now.histograms) {
    if (sample.name != pipeline_latency) {
      continue;
    }
    const HistogramSample* earlier = before.histogram(sample.name, sample.labels);
    merged.merge(earlier != nullptr ? sample.latency.since(earlier->latency) : sample.latency);
  }
  return merged;
}

std::string batches(double count) {
  std::uint64_t n = whole(count);
  return readable_count(n) + (n == 1 ? " batch" : " batches");
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);
  return text;
}

}  // namespace

bool Activity::idle() const {
  return in_rate == 0 && out_rate == 0 && processed == 0 && !queued() && !stuck_turn() && sink_queue_change == 0 &&
         paused_seconds == 0 && failed == 0 && lost == 0;
}

bool Activity::stalled() const {
  return processed == 0 && out_rate == 0 && (stuck_turn() || (queued_before && queued()));
}

Activity activity_between(const WorkerMetrics& before, const WorkerMetrics& now) {
  Activity activity;
  activity.seconds = static_cast<double>(now.time_ns - before.time_ns) / 1e9;
  double seconds = activity.seconds > 0 ? activity.seconds : 1;
  activity.in_rate = growth(before, now, source_events) / seconds;
  activity.out_rate = growth(before, now, sink_events) / seconds;
  std::uint64_t events_before = events_in_steps(before);
  std::uint64_t events_now = events_in_steps(now);
  activity.processed = events_now > events_before ? events_now - events_before : 0;
  activity.executor_queue = value_sum(now, executor_queue);
  activity.peer_queue = value_sum(now, peer_queue);
  activity.sink_queue_bytes = value_sum(now, sink_queue_bytes);
  activity.sink_queue_change = activity.sink_queue_bytes - value_sum(before, sink_queue_bytes);
  activity.paused_seconds = growth(before, now, source_paused);
  activity.failed = whole(growth(before, now, step_failures));
  activity.lost = whole(growth(before, now, lost_events));
  HistogramSnapshot latencies = pipeline_latencies_between(before, now);
  if (!latencies.empty()) {
    activity.pipeline_p99_ns = latencies.percentile(0.99);
  }
  activity.executor_turn_seconds = value_sum(now, executor_turn);
  activity.queued_before = value_sum(before, executor_queue) > 0 || value_sum(before, peer_queue) > 0;
  return activity;
}

std::string activity_line(const Activity& activity) {
  std::string line = "metrics: ";
  if (activity.stalled()) {
    line += "stalled: nothing processed in " + seconds_text(activity.seconds) +
            (activity.stuck_turn() ? " (the executor has been in one step or wait for " +
                                         seconds_text(activity.executor_turn_seconds) + "); "
                                   : " with batches waiting; ");
  }
  line += readable_rate(activity.in_rate) + " events/s in, " + readable_rate(activity.out_rate) + " out; p99 " +
          (activity.pipeline_p99_ns ? readable_latency(*activity.pipeline_p99_ns) : std::string("-")) + "; backlog " +
          batches(activity.executor_queue) + ", " + readable_count(whole(activity.peer_queue)) +
          " from peers, sink " + readable_bytes(activity.sink_queue_bytes) + ", paused " +
          seconds_text(activity.paused_seconds) + "; " + readable_count(activity.failed) + " failed, " +
          readable_count(activity.lost) + " lost";
  return line;
}

void ActivityLog::observe(const WorkerMetrics& now) {
  if (every_.count() <= 0) {
    return;
  }
  if (!since_) {
    since_ = now;
    return;
  }
  // Snapshots come every period, aligned to the wall clock: a tenth of `every` early is on time.
  auto due = std::chrono::duration_cast<std::chrono::nanoseconds>(every_ - every_ / 10).count();
  if (now.time_ns - since_->time_ns < due) {
    return;
  }
  Activity activity = activity_between(*since_, now);
  since_ = now;
  if (activity.idle()) {
    return;
  }
  auto log = core::module_logger("metrics");
  if (activity.stalled()) {
    log->warn("{}", activity_line(activity));
  } else {
    log->info("{}", activity_line(activity));
  }
}

}  // namespace roo::metrics
