#pragma once

#include "wallaroo_flags.hpp"

#include <optional>
#include <string>
#include <vector>

namespace roo::cli {

/// What `roo run` and `machida` both need to start one worker.
struct LaunchRequest {
  std::string module_name;
  std::string app_folder;              ///< empty when the module is found on sys.path
  std::vector<std::string> app_args;   ///< application_setup(args): program name, then the app's own flags
  std::vector<std::string> full_argv;  ///< wallaroo._ARGS
  WallarooFlags flags;
  std::string log_level = "info";
  double drain_timeout_seconds = 10;
  double source_idle_timeout_seconds = 30;
  double kafka_broker_wait_seconds = 30;  ///< --kafka-broker-wait
  double stuck_step_warning_seconds = 10;  ///< --stuck-step-warning
  std::optional<std::string> checkpoint_dir;  ///< roo run --checkpoint-dir
  long long checkpoint_interval_ms = 1000;    ///< roo run --checkpoint-interval
  std::optional<std::string> metrics_http;    ///< --metrics-http HOST:PORT (docs/metrics.md)
  bool no_metrics = false;                    ///< roo run --no-metrics
};

/// Checks the flags, configures logging and runs the worker. Returns its exit code.
[[nodiscard]] int launch_worker(const LaunchRequest& request);

}  // namespace roo::cli
