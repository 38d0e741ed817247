#include "worker_launch.hpp"

#include "roo/core/logging.hpp"
#include "roo/runtime/worker.hpp"

namespace roo::cli {

int launch_worker(const LaunchRequest& request) {
  check_supported(request.flags);
  std::string worker_name = request.flags.cluster_initializer || !request.flags.name ? "initializer" : *request.flags.name;
  core::configure_logging(request.log_level, worker_name);
  auto log = core::module_logger("cli");
  for (const auto& flag : request.flags.ignored) {
    log->info("{} is accepted for compatibility with Wallaroo and has no effect yet", flag);
  }
  if (request.flags.metrics) {
    log->info("--metrics {}: metrics reporting is not supported yet; the flag is accepted and ignored",
              *request.flags.metrics);
  }
  if (request.flags.external) {
    log->info("--external {}: the external channel is not served yet; the flag is accepted and ignored",
              *request.flags.external);
  }
  runtime::WorkerOptions options;
  options.module_name = request.module_name;
  options.app_folder = request.app_folder;
  options.app_args = request.app_args;
  options.full_argv = request.full_argv;
  options.worker_name = worker_name;
  options.drain_timeout = std::chrono::milliseconds(static_cast<long>(request.drain_timeout_seconds * 1000));
  return runtime::run_worker(options);
}

}  // namespace roo::cli
