#pragma once

#include "roo/core/endpoint.hpp"
#include "roo/core/shared_secret.hpp"
#include "roo/metrics/metrics_thread.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace roo::core {
class TlsContext;
}

namespace roo::runtime {

/// How this worker joins a cluster. Without it the worker runs alone and serves no external channel.
struct ClusterOptions {
  bool initializer = true;
  std::size_t worker_count = 1;            ///< initializer: workers to wait for, itself included
  core::Endpoint control;                  ///< initializer: listen; others: the initializer's control address
  core::Endpoint my_control;               ///< others: own control listen address
  bool joining = false;                    ///< --join: may join a cluster that formed already
  core::Endpoint data;                     ///< initializer: --data; others: --my-data
  std::optional<core::Endpoint> external;  ///< serve the external channel (roo ctl, roo shutdown) here
  std::chrono::milliseconds join_timeout{30000};
  core::SharedSecret cluster_secret;   ///< --cluster-secret-file: every control and data connection proves it
  core::SharedSecret external_secret;  ///< --external-secret-file: every external client proves it
  std::shared_ptr<const core::TlsContext> tls;  ///< --tls-cert/--tls-key/--tls-ca: mutual TLS on every connection
};

/// Checkpoints and recovery (docs/resilience.md).
struct CheckpointOptions {
  std::filesystem::path dir;                   ///< --checkpoint-dir / --resilience-dir; must exist
  std::chrono::milliseconds interval{1000};    ///< --checkpoint-interval / --time-between-checkpoints
  /// machida: a clean shutdown (`roo shutdown`, `cluster_shutdown`) removes the files, as Wallaroo's does. Without
  /// it (roo run) a clean stop takes one last checkpoint and keeps the files, so a restart continues from there.
  bool remove_on_shutdown = false;
};

struct WorkerOptions {
  std::string module_name;             ///< the application module to import
  std::string app_folder;              ///< put on sys.path before importing (empty: none)
  std::vector<std::string> app_args;   ///< what application_setup(args) receives
  std::vector<std::string> full_argv;  ///< wallaroo._ARGS
  std::string worker_name = "initializer";
  /// TCP source connections without a complete frame for this long are closed (0: never); io::TcpSourceConfig
  std::chrono::milliseconds source_idle_timeout{30000};
  std::chrono::milliseconds kafka_broker_wait{30000};  ///< how long a Kafka source retries unreachable brokers at start
  std::chrono::milliseconds drain_timeout{10000};  ///< at shutdown, how long the drain may take (the whole stop)
  /// A user call running this long is logged with its step and key (--stuck-step-warning).
  std::chrono::milliseconds stuck_step_warning{10000};
  std::optional<ClusterOptions> cluster;
  std::optional<CheckpointOptions> checkpoints;  ///< take checkpoints and recover from them (docs/resilience.md)
  /// Count and time events in every step (docs/metrics.md); `roo run --no-metrics` turns it off (and with it the
  /// endpoints below, which would show nothing).
  bool measure = true;
  /// Where the metrics go: Wallaroo's stream (--metrics), the HTTP endpoint and dashboard (--metrics-http), the
  /// activity log line. app_name is filled in from the application.
  metrics::MetricsOptions metrics;
};

/// Runs one worker until it is stopped: embeds Python, loads the application, joins its cluster (if any), starts
/// its sources and sinks, and serves the Python executor on the calling thread. SIGINT/SIGTERM (or `roo shutdown`
/// in a cluster) stops the sources everywhere, events in flight drain to the sinks within drain_timeout, and it
/// returns 0, or 1 when anything read was not delivered (one error line says what and why: see DeliveryReport) or a
/// peer was lost. A user call that does not return is interrupted at the stop, and the process exits 1 at
/// drain_timeout + 0.6 s if it still has not. Throws core::UsageError / core::Error for setup failures.
[[nodiscard]] int run_worker(const WorkerOptions& options);

}  // namespace roo::runtime
