#include "worker_launch.hpp"

#include "client_tls.hpp"

#include "roo/core/endpoint.hpp"
#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"
#include "roo/core/shared_secret.hpp"
#include "roo/runtime/worker.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>

namespace roo::cli {

namespace {

core::Endpoint address(const std::optional<std::string>& value, const char* flag) {
  return value ? core::parse_endpoint(*value, flag) : core::Endpoint{"127.0.0.1", 0};
}

/// The secret in the file the flag names, else in the file the environment variable names, else none.
core::SharedSecret load_secret(const std::optional<std::string>& flag_value, const char* flag, const char* variable) {
  if (flag_value) {
    return core::SharedSecret::load(*flag_value, flag);
  }
  if (const char* path = std::getenv(variable); path != nullptr && *path != '\0') {
    return core::SharedSecret::load(path, variable);
  }
  return {};
}

/// How often the activity log line comes: MetricsOptions' 10 s, or $ROO_METRICS_LOG_EVERY_MS (for tests, which
/// cannot wait 10 s; 0 turns the line off).
std::chrono::milliseconds activity_log_every(std::chrono::milliseconds otherwise) {
  const char* value = std::getenv("ROO_METRICS_LOG_EVERY_MS");
  if (value == nullptr || *value == '\0') {
    return otherwise;
  }
  char* end = nullptr;
  long long ms = std::strtoll(value, &end, 10);
  if (*end != '\0' || ms < 0) {
    throw core::UsageError("parse ROO_METRICS_LOG_EVERY_MS '" + std::string(value) +
                           "': expected a whole number of milliseconds, 0 or more");
  }
  return std::chrono::milliseconds(ms);
}

/// A cluster when the flags ask for one (several workers, or a worker joining one), or a cluster of one when the
/// single worker should serve the external channel; nothing otherwise.
std::optional<runtime::ClusterOptions> cluster_options(const WallarooFlags& flags) {
  bool joins = is_joining_worker(flags);
  bool leads = flags.cluster_initializer && flags.worker_count > 1;
  if (!joins && !leads && !flags.external) {
    return std::nullopt;
  }
  runtime::ClusterOptions options;
  options.initializer = !joins;
  options.joining = flags.join.has_value();
  options.worker_count = joins ? 1 : static_cast<std::size_t>(flags.worker_count);
  options.control = address(initializer_control(flags), flags.join ? "--join" : "--control");
  if (joins) {
    options.my_control = address(flags.my_control, "--my-control");
    options.data = address(flags.my_data, "--my-data");
  } else {
    options.data = address(flags.data, "--data");
  }
  if (flags.external) {
    options.external = core::parse_endpoint(*flags.external, "--external");
  }
  options.cluster_secret = load_secret(flags.cluster_secret_file, "--cluster-secret-file", "ROO_CLUSTER_SECRET_FILE");
  options.external_secret =
      load_secret(flags.external_secret_file, "--external-secret-file", "ROO_EXTERNAL_SECRET_FILE");
  if (auto files = tls_files(flags.tls_cert, flags.tls_key, flags.tls_ca)) {
    options.tls = core::TlsContext::load(*files);
  }
  return options;
}

}  // namespace

namespace {

// Roo's --checkpoint-dir, or Wallaroo's --run-with-resilience (with --resilience-dir, default /tmp, and
// --time-between-checkpoints). The directory must exist, as Wallaroo requires.
std::optional<runtime::CheckpointOptions> checkpoint_options(const LaunchRequest& request) {
  const auto& flags = request.flags;
  if (request.checkpoint_dir && flags.run_with_resilience) {
    throw core::UsageError(
        "use --checkpoint-dir with --run-with-resilience: choose one (--checkpoint-dir is Roo's, "
        "--run-with-resilience with --resilience-dir Wallaroo's)");
  }
  runtime::CheckpointOptions options;
  std::string flag;
  if (request.checkpoint_dir) {
    flag = "--checkpoint-dir";
    options.dir = *request.checkpoint_dir;
    options.interval = std::chrono::milliseconds(request.checkpoint_interval_ms);
  } else if (flags.run_with_resilience) {
    flag = "--resilience-dir";
    options.dir = flags.resilience_dir.value_or("/tmp");
    options.interval = std::chrono::milliseconds(flags.time_between_checkpoints_ns.value_or(1000000000) / 1000000);
    options.remove_on_shutdown = true;
  } else {
    return std::nullopt;
  }
  std::error_code error;
  if (!std::filesystem::is_directory(options.dir, error)) {
    throw core::UsageError("use " + flag + " " + options.dir.string() + ": no such directory (create it first)");
  }
  return options;
}

}  // namespace

int launch_worker(const LaunchRequest& request) {
  check_supported(request.flags);
  std::string worker_name =
      request.flags.cluster_initializer || !request.flags.name ? "initializer" : *request.flags.name;
  core::configure_logging(request.log_level, worker_name);
  auto log = core::module_logger("cli");
  for (const auto& flag : request.flags.ignored) {
    log->info("{} is accepted for compatibility with Wallaroo and has no effect yet", flag);
  }
  if (request.flags.join && request.flags.worker_count > 1) {
    log->info(
        "--worker-count {} is accepted for compatibility with Wallaroo: the initializer admits each joining "
        "worker on its own",
        request.flags.worker_count);
  }
  if (request.no_metrics && (request.flags.metrics || request.metrics_http)) {
    throw core::UsageError("use --no-metrics with --metrics or --metrics-http: choose one");
  }

  runtime::WorkerOptions options;
  options.module_name = request.module_name;
  options.app_folder = request.app_folder;
  options.app_args = request.app_args;
  options.full_argv = request.full_argv;
  options.worker_name = worker_name;
  options.drain_timeout = std::chrono::milliseconds(static_cast<long>(request.drain_timeout_seconds * 1000));
  options.source_idle_timeout =
      std::chrono::milliseconds(static_cast<long>(request.source_idle_timeout_seconds * 1000));
  options.kafka_broker_wait = std::chrono::milliseconds(static_cast<long>(request.kafka_broker_wait_seconds * 1000));
  options.stuck_step_warning = std::chrono::milliseconds(static_cast<long>(request.stuck_step_warning_seconds * 1000));
  options.cluster = cluster_options(request.flags);
  options.checkpoints = checkpoint_options(request);
  options.measure = !request.no_metrics;
  if (request.flags.metrics) {
    options.metrics.wallaroo = core::parse_endpoint(*request.flags.metrics, "--metrics");
  }
  if (request.metrics_http) {
    options.metrics.http = core::parse_endpoint(*request.metrics_http, "--metrics-http");
  }
  options.metrics.log_every = activity_log_every(options.metrics.log_every);
  return runtime::run_worker(options);
}

}  // namespace roo::cli
