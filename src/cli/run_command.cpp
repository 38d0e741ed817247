// `roo run [flags] APP [app flags]`: run a Wallaroo application (a .py file or a module name), in one worker or
// a local cluster of several.
#include "bruco_launch.hpp"
#include "cluster_launch.hpp"
#include "commands.hpp"
#include "exit_status.hpp"
#include "flag_values.hpp"
#include "worker_launch.hpp"

#include "roo/core/error.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

namespace fs = std::filesystem;

namespace roo::cli {
namespace {

struct RunOptions {
  std::string log_level = "info";
  double drain_timeout = 10;
  double source_idle_timeout = 30;
  double kafka_broker_wait = 30;
  int workers = 1;          ///< --workers: more than 1 starts a local cluster (cluster_launch.hpp)
  double stuck_step_warning = 10;
  std::optional<std::string> checkpoint_dir;  ///< --checkpoint-dir: take checkpoints there, recover from them
  std::string checkpoint_interval = "1s";
  bool supervised = false;  ///< a worker of `roo run --workers`, whose notes the supervisor has given
  std::optional<std::string> metrics_http;  ///< --metrics-http HOST:PORT
  bool no_metrics = false;                  ///< --no-metrics
};

/// The usage line names what follows the flags, which CLI11 cannot see: APP is left to remaining().
class RunUsage : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    std::string usage = CLI::Formatter::make_usage(app, std::move(name));
    usage.insert(usage.find_last_not_of('\n') + 1, " APP [APPLICATION AND WALLAROO FLAGS...]");
    return usage;
  }
};

/// "examples/alphabet/alphabet.py" -> module "alphabet" in folder ".../examples/alphabet";
/// "alphabet" -> module "alphabet" found on sys.path (the current folder is added).
void locate_application(const std::string& app, LaunchRequest& request) {
  if (app.starts_with("-")) {
    throw core::UsageError("use " + app.substr(0, app.find('=')) +
                           ": roo run has no such flag (the application's and Wallaroo's flags go after APP)");
  }
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

/// Roo's own flags written after APP reach the application, as Wallaroo passes on every flag it does not know:
/// one note each, so `roo run app.py --log-level debug` does not silently run at info.
void note_roo_flags_after_app(const CLI::App& run, const std::vector<std::string>& flags, const std::string& app) {
  std::vector<std::string> app_args;
  (void)take_wallaroo_flags(flags, app_args);
  for (const auto& arg : app_args) {
    std::string name = arg.substr(0, arg.find('='));
    if (name.starts_with("--") && run.get_option_no_throw(name) != nullptr) {
      std::fprintf(stderr, "roo run: note: %s after the application is passed to it; put Roo's flags before %s\n",
                   name.c_str(), app.c_str());
    }
  }
}

void run(const CLI::App& sub, const RunOptions& options, const std::vector<std::string>& rest) {
  if (rest.empty()) {
    throw core::UsageError("run: name the application to run, e.g. roo run examples/alphabet/alphabet.py");
  }
  if (!options.supervised && is_bruco_function(rest.front())) {
    // A Bruco function: its config says what to run; Roo's Bruco module runs it (docs/bruco.md).
    BrucoRun function = prepare_bruco_function(
        rest.front(), sub.get_option("--workers")->count() ? std::optional<int>(options.workers) : std::nullopt);
    function.argv.insert(function.argv.end(), rest.begin() + 1, rest.end());
    RunOptions bruco = options;
    bruco.workers = function.workers;
    run(sub, bruco, function.argv);
    return;
  }
  LaunchRequest request;
  locate_application(rest.front(), request);
  std::vector<std::string> flags(rest.begin() + 1, rest.end());
  int workers = take_workers_flag(flags).value_or(options.workers);
  if (!options.supervised) {
    note_roo_flags_after_app(sub, flags, rest.front());
  }
  if (workers > 1) {
    ClusterLaunchRequest cluster{.workers = workers, .app = rest.front(), .flags = flags};
    cluster.log_level = options.log_level;
    cluster.drain_timeout_seconds = options.drain_timeout;
    cluster.source_idle_timeout_seconds = options.source_idle_timeout;
    cluster.kafka_broker_wait_seconds = options.kafka_broker_wait;
    cluster.stuck_step_warning_seconds = options.stuck_step_warning;
    cluster.checkpoint_dir = options.checkpoint_dir;
    cluster.checkpoint_interval = options.checkpoint_interval;
    cluster.metrics_http = options.metrics_http;
    cluster.no_metrics = options.no_metrics;
    throw ExitRequest{launch_cluster(cluster)};
  }
  request.app_args.push_back("roo");
  request.flags = take_wallaroo_flags(flags, request.app_args);
  request.full_argv.push_back("roo");
  request.full_argv.insert(request.full_argv.end(), rest.begin(), rest.end());
  request.log_level = options.log_level;
  request.drain_timeout_seconds = options.drain_timeout;
  request.source_idle_timeout_seconds = options.source_idle_timeout;
  request.kafka_broker_wait_seconds = options.kafka_broker_wait;
  request.stuck_step_warning_seconds = options.stuck_step_warning;
  request.checkpoint_dir = options.checkpoint_dir;
  request.checkpoint_interval_ms = parse_duration_ms("--checkpoint-interval", options.checkpoint_interval);
  request.metrics_http = options.metrics_http;
  request.no_metrics = options.no_metrics;
  throw ExitRequest{launch_worker(request)};
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand("run", "Run a Wallaroo application, in one worker or a local cluster");
  sub->formatter(std::make_shared<RunUsage>());
  sub->footer(
      "APP is a Python file (its folder goes on sys.path), a module name (found in the current folder or on\n"
      "PYTHONPATH), or a Bruco function: a config.yaml, a folder holding one, or a .zip of it (docs/bruco.md). Roo's flags above go before APP. Everything after APP is the application's: its own flags\n"
      "(--in, --out, ...) reach application_setup(args); Wallaroo's worker flags (--metrics, --control,\n"
      "--ponythreads, ...) and --workers are accepted there too. Roo's other flags after APP are passed to the\n"
      "application, with a note.\n\n"
      "Example:\n"
      "  roo run examples/alphabet/alphabet.py --in 'Alphabet'@127.0.0.1:7010 --out 127.0.0.1:7002\n"
      "  roo run --workers 2 examples/alphabet/alphabet.py --in 'Alphabet'@127.0.0.1:7010 --out 127.0.0.1:7002");
  sub->add_option("--log-level", options->log_level, "Log level")
      ->capture_default_str()
      ->check(one_of("--log-level", {"trace", "debug", "info", "warn", "error", "critical", "off"}));
  sub->add_option("--drain-timeout", options->drain_timeout,
                  "Seconds the sinks get, at shutdown, to take the events still in flight")
      ->capture_default_str()
      ->check(seconds_value("--drain-timeout"));
  sub->add_option("--source-idle-timeout", options->source_idle_timeout,
                  "Seconds a TCP source connection may go without completing a frame before it is closed, when it "
                  "has sent no complete frame yet or is inside one (0: never); connections pausing between frames "
                  "stay open")
      ->capture_default_str()
      ->check(seconds_value("--source-idle-timeout"));
  sub->add_option("--kafka-broker-wait", options->kafka_broker_wait,
                  "Seconds a Kafka source retries unreachable brokers at start before the worker gives up")
      ->capture_default_str()
      ->check(seconds_value("--kafka-broker-wait"));
  sub->add_option("--workers", options->workers,
                  "Number of local worker processes: 1 runs one plain worker, more start a cluster; also accepted "
                  "after APP")
      ->capture_default_str()
      ->check(count_value("--workers"));
  sub->add_flag("--supervised", options->supervised, "Set by roo run --workers for its workers")->group("");
  // The stuck-call watchdog (docs/running.md, "A step that does not return").
  sub->add_option("--stuck-step-warning", options->stuck_step_warning,
                  "Seconds a user function may run on one event before the worker logs its step and key")
      ->capture_default_str()
      ->check(seconds_value("--stuck-step-warning", false));
  // Checkpoints and recovery (docs/resilience.md).
  sub->add_option("--checkpoint-dir", options->checkpoint_dir,
                  "Take checkpoints in this directory, and restore the newest one at start");
  sub->add_option("--checkpoint-interval", options->checkpoint_interval,
                  "Time between checkpoints (e.g. 1s, 500ms, 2m)")
      ->capture_default_str()
      ->check(duration_value("--checkpoint-interval"));
  // Metrics (docs/metrics.md).
  sub->add_option("--metrics-http", options->metrics_http,
                  "Serve /metrics (Prometheus), /healthz, /readyz and the live dashboard on HOST:PORT (with "
                  "--workers N, worker i on PORT + i)")
      ->check(endpoint_value("--metrics-http"));
  sub->add_flag("--no-metrics", options->no_metrics,
                "Count and time nothing (metrics are on by default; their cost is in docs/benchmarks.md)");
  sub->prefix_command();
  sub->callback([sub, options] { run(*sub, *options, sub->remaining()); });
}

}  // namespace roo::cli
