#pragma once

#include "roo/core/endpoint.hpp"
#include "roo/metrics/metrics_history.hpp"
#include "roo/metrics/metrics_registry.hpp"
#include "roo/metrics/worker_metrics.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace roo::metrics {

class WallarooMetricsStream;

/// Where a worker's metrics go (docs/metrics.md).
struct MetricsOptions {
  std::string app_name;
  std::optional<core::Endpoint> wallaroo;  ///< --metrics: Wallaroo's metrics stream (spec §5) to this address
  std::optional<core::Endpoint> http;      ///< --metrics-http: /metrics, /healthz, /readyz, /api/..., the dashboard
  std::chrono::milliseconds period{2000};  ///< a snapshot every period, aligned to wall-clock multiples of it
  std::chrono::milliseconds log_every{10000};  ///< the activity line (silent while idle); 0: none
};

/// What the metrics thread asks of the worker. Called on the metrics thread; must be thread-safe.
struct MetricsHooks {
  /// The answers of every worker to the metrics query (cluster::metrics_query: each one's latest_json()), by worker
  /// name, and the names of those that did not answer. `done` may run on any thread. Unset: this worker alone.
  using Gathered = std::function<void(std::vector<std::pair<std::string, std::string>>, std::vector<std::string>)>;
  std::function<void(Gathered done)> gather;
  /// /readyz: the worker has joined its cluster and runs its pipeline. Unset: always.
  std::function<bool()> ready;
};

/// The metrics thread: snapshots the registry every period (MetricsHistory: rates and the last five minutes), and
/// serves what reads them — the HTTP endpoint and dashboard, Wallaroo's metrics stream, the activity log line — on an
/// io_context of its own, so that nothing of it runs on the executor.
///
/// Threads: construct, start() and stop() on one thread (the worker's main thread); latest(), latest_json() and
/// cluster() from any thread. The registry outlives it.
class MetricsThread {
 public:
  MetricsThread(MetricsRegistry& registry, MetricsOptions options, MetricsHooks hooks);
  ~MetricsThread();
  MetricsThread(const MetricsThread&) = delete;
  MetricsThread& operator=(const MetricsThread&) = delete;

  /// Binds the HTTP listener (throws core::Error naming the address when it cannot), takes the first snapshot and
  /// starts the thread.
  void start();
  /// Takes a last snapshot (so a final scrape or the stream sees the end) and stops the thread. Idempotent.
  void stop();

  /// The latest snapshot, with its rates and last five minutes.
  [[nodiscard]] WorkerMetrics latest() const;
  /// The same as JSON: this worker's answer to the cluster's metrics query.
  [[nodiscard]] std::string latest_json() const;
  /// Every worker's latest metrics and their sum (hooks.gather); `done` runs on the metrics thread. Answers that do
  /// not parse are left out and their workers listed as missing (and logged).
  void cluster(std::function<void(ClusterMetrics)> done);
  /// A snapshot now (not waiting for the period), for tests and `roo ctl metrics` on a worker alone.
  void sample_now();

  [[nodiscard]] boost::asio::io_context& io() { return io_; }
  [[nodiscard]] const MetricsOptions& options() const { return options_; }
  [[nodiscard]] const MetricsHooks& hooks() const { return hooks_; }

 private:
  void schedule_sample();
  void sample();

  MetricsRegistry& registry_;
  MetricsOptions options_;
  MetricsHooks hooks_;
  boost::asio::io_context io_{1};
  boost::asio::steady_timer timer_{io_};
  std::unique_ptr<WallarooMetricsStream> wallaroo_;  ///< --metrics; lives on io_, destroyed before it
  std::thread thread_;
  MetricsHistory history_;  ///< the metrics thread's
  mutable std::mutex latest_mutex_;
  WorkerMetrics latest_;
  std::string latest_json_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace roo::metrics
