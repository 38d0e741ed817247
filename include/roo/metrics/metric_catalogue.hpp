#pragma once

#include <string_view>
#include <vector>

namespace roo::metrics {

/// Every metric Roo exports, in one table: its Prometheus name, type and help text (docs/metrics.md lists the
/// same, with what each measures). A name not listed here is not exported.
struct MetricInfo {
  enum class Type { counter, gauge, histogram };
  std::string_view name;
  Type type;
  std::string_view help;
  /// Wallaroo's metrics stream: the category a histogram is sent under ("computation", "start-to-end",
  /// "node-ingress-egress"); empty: not sent.
  std::string_view wallaroo_category = {};
  /// Histograms: the counter of every event they sample (HistogramSample::events) is exported under this name too;
  /// empty: not exported.
  std::string_view events_name = {};
};

[[nodiscard]] const std::vector<MetricInfo>& metric_catalogue();
/// The catalogue's entry for `name`; null when there is none.
[[nodiscard]] const MetricInfo* find_metric(std::string_view name);

// The names the runtime registers, so that a typo is a compile error.
inline constexpr std::string_view step_latency = "roo_step_latency_seconds";
inline constexpr std::string_view pipeline_latency = "roo_pipeline_latency_seconds";
inline constexpr std::string_view worker_latency = "roo_worker_latency_seconds";
inline constexpr std::string_view checkpoint_duration = "roo_checkpoint_duration_seconds";
inline constexpr std::string_view step_events = "roo_events_total";
inline constexpr std::string_view source_events = "roo_source_events_total";
inline constexpr std::string_view sink_events = "roo_sink_events_total";
inline constexpr std::string_view step_failures = "roo_step_failures_total";
inline constexpr std::string_view lost_events = "roo_lost_events_total";
inline constexpr std::string_view late_events = "roo_late_events_total";
inline constexpr std::string_view executor_queue = "roo_executor_queue_batches";
inline constexpr std::string_view peer_queue = "roo_peer_queue_batches";
inline constexpr std::string_view executor_turn = "roo_executor_turn_seconds";
inline constexpr std::string_view source_paused = "roo_source_paused_seconds_total";
inline constexpr std::string_view sink_queue_bytes = "roo_sink_queue_bytes";
inline constexpr std::string_view checkpoints_completed = "roo_checkpoints_total";
inline constexpr std::string_view checkpoint_bytes = "roo_checkpoint_last_bytes";
inline constexpr std::string_view checkpoint_last_id = "roo_checkpoint_last_id";
inline constexpr std::string_view recoveries = "roo_recoveries_total";
inline constexpr std::string_view kafka_lag = "roo_kafka_consumer_lag_messages";
inline constexpr std::string_view workers_live = "roo_cluster_workers";
inline constexpr std::string_view uptime = "roo_uptime_seconds";

}  // namespace roo::metrics
