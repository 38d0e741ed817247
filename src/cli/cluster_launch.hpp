#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace roo::cli {

/// What `roo run --workers N APP [flags]` needs to start a cluster of N local workers.
struct ClusterLaunchRequest {
  int workers = 2;                 ///< N >= 2
  std::string app;                 ///< APP as the user wrote it (a .py file or a module name)
  std::vector<std::string> flags;  ///< everything after APP: the application's and Wallaroo's flags
  std::string log_level = "info";
  double drain_timeout_seconds = 10;
  double source_idle_timeout_seconds = 30;
  double kafka_broker_wait_seconds = 30;
  double stuck_step_warning_seconds = 10;
  std::optional<std::string> checkpoint_dir{};  ///< --checkpoint-dir, for every worker (each has its own folder in it)
  std::string checkpoint_interval = "1s";
  /// --metrics-http HOST:PORT: worker i serves on PORT + i (docs/metrics.md); any worker's page shows the cluster.
  std::optional<std::string> metrics_http{};
  bool no_metrics = false;  ///< --no-metrics, for every worker
};

/// One worker of the planned cluster: its name, its command line (argv[0] is "roo") and what to tell the user.
struct WorkerCommand {
  std::string name;                        ///< "initializer", "worker1", ...
  std::vector<std::string> argv;           ///< roo run ... APP flags... cluster flags...
  std::vector<std::string> notes;          ///< e.g. "worker1 listens for 'Alphabet' on 127.0.0.1:7011"
  std::vector<std::uint16_t> fixed_ports;  ///< ports it listens on that were not picked: --in, the user's --external
};

/// The cluster's command lines. `ports` supplies the free ports handed out (control, data and external
/// addresses), consumed in order: 2 for the initializer plus 1 if the user gave no --external, 3 per other
/// worker. Worker i's `--in` ports are the user's plus i. Throws core::UsageError for flags that --workers
/// sets itself (--control, --data, --name, ...) or an --in port that would pass 65535.
[[nodiscard]] std::vector<WorkerCommand> plan_cluster(const ClusterLaunchRequest& request,
                                                      const std::vector<std::uint16_t>& ports);

/// Removes `--workers N` / `--workers=N` from `flags` (the ones after APP) and returns N, if present.
/// Throws core::UsageError for a value that is not a whole number of at least 1.
[[nodiscard]] std::optional<int> take_workers_flag(std::vector<std::string>& flags);

/// Starts the planned workers as child processes of this binary (`/proc/self/exe`), re-prints their output
/// line by line prefixed with `[name] `, and supervises them: SIGINT/SIGTERM to this process sends SIGTERM
/// to every worker (a second one sends SIGKILL); a worker that fails stops the others. Blocks until every
/// worker has exited; returns 0 if all exited 0, else the first non-zero code (128 + signal if killed).
[[nodiscard]] int launch_cluster(const ClusterLaunchRequest& request);

}  // namespace roo::cli
