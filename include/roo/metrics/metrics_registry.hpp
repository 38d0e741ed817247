#pragma once

#include "roo/metrics/latency_histogram.hpp"
#include "roo/metrics/worker_metrics.hpp"

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace roo::metrics {

/// A latency histogram with the exact count of the events it samples (a step, a pipeline, the worker).
struct LatencyMeter {
  LatencyHistogram latency;
  EventCount events;
};

/// One worker's meters, by metric name and labels (names from metric_catalogue()).
///
/// Threads: meters are made on any thread (the executor at setup, mostly) and live as long as the registry, at
/// stable addresses, so their one writer keeps a reference and writes without a lock. snapshot() runs on any
/// thread (the metrics thread) and reads every meter while writers go on; gauges are read there, so a gauge's
/// function must be safe to call from another thread. Registration and snapshot() take a mutex; writes never do.
class MetricsRegistry {
 public:
  explicit MetricsRegistry(std::string worker);

  /// The meter for histogram `name` with `labels`; the same one again for the same name and labels.
  LatencyMeter& latency(std::string_view name, Labels labels);
  /// The counter `name` with `labels`; the same one again for the same name and labels.
  EventCount& counter(std::string_view name, Labels labels);
  /// A gauge (or a counter kept elsewhere) read by `read` at each snapshot. Replaces one with the same name and
  /// labels (a pipeline rebuilt after a rollback registers its gauges again).
  void gauge(std::string_view name, Labels labels, std::function<double()> read);
  /// Gauges whose label sets are known only when read (a Kafka source's partitions): `read` returns every one's
  /// labels and value at each snapshot. Replaces a family of the same name and `owner` (a source restarted).
  using Family = std::function<std::vector<std::pair<Labels, double>>()>;
  void gauge_family(std::string_view name, std::string owner, Family read);
  /// Drops every gauge (before what they read goes away).
  void clear_gauges();

  /// Every meter's values now.
  [[nodiscard]] WorkerMetrics snapshot() const;
  [[nodiscard]] const std::string& worker() const { return worker_; }
  /// The worker's name, once the cluster has given it (a joining worker learns it late).
  void rename(std::string worker);

 private:
  template <typename Meter>
  struct Named {
    std::string name;
    Labels labels;
    Meter meter;
  };
  struct Gauge {
    std::string name;
    Labels labels;
    std::function<double()> read;
  };
  struct GaugeFamily {
    std::string name;
    std::string owner;
    Family read;
  };

  mutable std::mutex mutex_;
  std::string worker_;
  std::int64_t started_ns_ = 0;
  std::deque<Named<LatencyMeter>> latencies_;
  std::deque<Named<EventCount>> counters_;
  std::deque<Gauge> gauges_;
  std::deque<GaugeFamily> families_;
};

}  // namespace roo::metrics
