#pragma once

#include "roo/metrics/histogram_snapshot.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace roo::metrics {

/// A metric's labels besides `worker` (which WorkerMetrics carries once), e.g. {{"pipeline", "Alphabet"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

/// A counter's or a gauge's value (metric_catalogue() says which it is).
struct ValueSample {
  std::string name;  ///< Prometheus' name, e.g. "roo_events_total"
  Labels labels;
  double value = 0;
  double rate = 0;  ///< counters: per second over the last period (MetricsHistory); 0 until known
};

/// A latency histogram and the exact count of the events it samples.
struct HistogramSample {
  std::string name;  ///< e.g. "roo_step_latency_seconds"
  Labels labels;
  std::uint64_t events = 0;   ///< every event that passed (the histogram times a sample of them: docs/metrics.md)
  double rate = 0;            ///< events per second over the last period (MetricsHistory); 0 until known
  HistogramSnapshot latency;  ///< since the worker started
  HistogramSnapshot recent;   ///< over the last five minutes (MetricsHistory); empty until known
};

/// One worker's metrics at one moment: what /metrics prints, what the metrics stream and the dashboard show, and
/// what workers send each other (as JSON) for the cluster's view.
struct WorkerMetrics {
  std::string worker;
  std::int64_t time_ns = 0;     ///< wall clock, ns since the epoch
  std::int64_t started_ns = 0;  ///< when the worker started (wall clock)
  std::vector<ValueSample> values;
  std::vector<HistogramSample> histograms;

  [[nodiscard]] const ValueSample* value(std::string_view name, const Labels& labels = {}) const;
  [[nodiscard]] const HistogramSample* histogram(std::string_view name, const Labels& labels) const;
};

/// The whole cluster: every worker's metrics that answered, the names of those that did not, and "cluster", their
/// sum (counters and rates added, histograms merged, gauges added).
struct ClusterMetrics {
  std::vector<WorkerMetrics> workers;
  std::vector<std::string> missing;
  WorkerMetrics total;
};

/// Adds the workers' metrics up (ClusterMetrics::total; worker "cluster").
[[nodiscard]] WorkerMetrics add_up(const std::vector<WorkerMetrics>& workers);

// JSON (docs/metrics.md, "The JSON API"): histograms carry their non-empty buckets as [index, count] pairs, and the
// percentiles p50 .. p99.99 (in ns) computed from them for convenience.
void to_json(nlohmann::json& out, const HistogramSnapshot& histogram);
void from_json(const nlohmann::json& in, HistogramSnapshot& histogram);
void to_json(nlohmann::json& out, const WorkerMetrics& metrics);
void from_json(const nlohmann::json& in, WorkerMetrics& metrics);
void to_json(nlohmann::json& out, const ClusterMetrics& metrics);
/// Parses a worker's JSON as another worker sent it; false (with `error`) when it is not what to_json writes.
[[nodiscard]] bool parse_worker_metrics(std::string_view text, WorkerMetrics& metrics, std::string& error);

}  // namespace roo::metrics
