// `roo run APP [app flags]`: run a Wallaroo application (a .py file or a module name) in one worker.
#include "cluster_launch.hpp"
#include "commands.hpp"
#include "exit_status.hpp"
#include "worker_launch.hpp"

#include "roo/core/error.hpp"

#include <filesystem>
#include <memory>

namespace fs = std::filesystem;

namespace roo::cli {
namespace {

struct RunOptions {
  std::string log_level = "info";
  double drain_timeout = 10;
  int workers = 1;  ///< --workers: more than 1 starts a local cluster (cluster_launch.hpp)
  double stuck_step_warning = 10;
};

/// "examples/alphabet/alphabet.py" -> module "alphabet" in folder ".../examples/alphabet";
/// "alphabet" -> module "alphabet" found on sys.path (the current folder is added).
void locate_application(const std::string& app, LaunchRequest& request) {
  if (app.size() > 3 && app.ends_with(".py")) {
    fs::path path(app);
    if (!fs::is_regular_file(path)) {
      throw core::UsageError("find application file '" + app + "': no such file");
    }
    request.module_name = path.stem().string();
    request.app_folder = fs::absolute(path).parent_path().lexically_normal().string();
    return;
  }
  request.module_name = app;
  request.app_folder = fs::current_path().string();
}

void run(const RunOptions& options, const std::vector<std::string>& rest, const std::string& program) {
  if (rest.empty()) {
    throw core::UsageError("run: name the application to run, e.g. roo run examples/alphabet/alphabet.py");
  }
  LaunchRequest request;
  locate_application(rest.front(), request);
  std::vector<std::string> flags(rest.begin() + 1, rest.end());
  if (int workers = take_workers_flag(flags).value_or(options.workers); workers > 1) {
    ClusterLaunchRequest cluster{.workers = workers, .app = rest.front(), .flags = flags};
    cluster.log_level = options.log_level;
    cluster.drain_timeout_seconds = options.drain_timeout;
    cluster.stuck_step_warning_seconds = options.stuck_step_warning;
    throw ExitRequest{launch_cluster(cluster)};
  }
  request.app_args.push_back(program);
  request.flags = take_wallaroo_flags(flags, request.app_args);
  request.full_argv.push_back(program);
  request.full_argv.insert(request.full_argv.end(), rest.begin(), rest.end());
  request.log_level = options.log_level;
  request.drain_timeout_seconds = options.drain_timeout;
  request.stuck_step_warning_seconds = options.stuck_step_warning;
  throw ExitRequest{launch_worker(request)};
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand("run", "Run a Wallaroo application in one worker");
  sub->footer(
      "APP is a Python file (its folder goes on sys.path) or a module name on PYTHONPATH. Everything after APP\n"
      "is the application's: its own flags (--in, --out, ...) reach application_setup(args); Wallaroo's worker\n"
      "flags (--metrics, --control, --ponythreads, ...) are accepted there too.\n\n"
      "Example:\n"
      "  roo run examples/alphabet/alphabet.py --in 'Alphabet'@127.0.0.1:7010 --out 127.0.0.1:7002\n"
      "  roo run --workers 2 examples/alphabet/alphabet.py --in 'Alphabet'@127.0.0.1:7010 --out 127.0.0.1:7002");
  sub->add_option("--log-level", options->log_level, "Log level: trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  sub->add_option("--drain-timeout", options->drain_timeout,
                  "Seconds the sinks get, at shutdown, to take the events still in flight")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--workers", options->workers,
                  "Start a cluster of this many local workers (1: one plain worker); also accepted after APP")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  // The stuck-call watchdog (docs/running.md, "A step that does not return").
  sub->add_option("--stuck-step-warning", options->stuck_step_warning,
                  "Seconds a user function may run on one event before the worker logs its step and key")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->prefix_command();
  sub->callback([sub, options] { run(*options, sub->remaining(), "roo"); });
}

}  // namespace roo::cli
