// `roo top --external H:P`: the cluster's rates and latencies, redrawn every interval (the table of
// `roo ctl metrics`, from the same request).
#include "cluster_metrics_query.hpp"
#include "commands.hpp"
#include "external_client_flags.hpp"
#include "flag_values.hpp"
#include "metrics_table.hpp"

#include "roo/core/error.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

namespace roo::cli {
namespace {

struct TopOptions {
  std::string external;
  std::string interval = "2s";
  bool once = false;
  double timeout = 5;
  ExternalClientFlags client;  ///< --external-secret-file, --tls-*
};

/// Moves the cursor home and clears the screen (ANSI), so that each frame replaces the last.
constexpr const char* clear_screen = "\033[H\033[2J";

std::string frame_header(const TopOptions& options, long long interval_ms) {
  char every[32];
  std::snprintf(every, sizeof every, "%g s", static_cast<double>(interval_ms) / 1000);
  return "roo top: " + options.external + ", every " + every + " (Ctrl-C to quit)\n";
}

void draw(const std::string& frame) {
  std::fputs(clear_screen, stdout);
  std::fputs(frame.c_str(), stdout);
  std::fflush(stdout);
}

void run_top(const TopOptions& options) {
  long long interval_ms = parse_duration_ms("--interval", options.interval);
  // The first answer decides: a worker that cannot be reached ends the command with one line (exit 1).
  std::string table = metrics_table(fetch_cluster_metrics(options.external, options.client, options.timeout));
  if (options.once || ::isatty(STDOUT_FILENO) == 0) {
    std::fputs(table.c_str(), stdout);
    std::fflush(stdout);
    return;
  }
  std::string header = frame_header(options, interval_ms);
  draw(header + "\n" + table);
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    // Later, a worker that went away (or a slow answer) is shown above the last table, and the view goes on.
    try {
      table = metrics_table(fetch_cluster_metrics(options.external, options.client, options.timeout));
      draw(header + "\n" + table);
    } catch (const core::Error& e) {
      draw(header + "unable to " + e.what() + "; retrying\n\n" + table);
    }
  }
}

}  // namespace

void add_top_command(CLI::App& app) {
  auto options = std::make_shared<TopOptions>();
  auto* sub = app.add_subcommand("top", "Show the cluster's rates and latencies, live");
  sub->footer(
      "Asks a worker for every worker's metrics (the request of roo ctl metrics) and redraws the table every\n"
      "--interval: per pipeline and step the events, events/s, p50/p99/p99.9 of the last 5 minutes and the\n"
      "failures; per worker the rates in and out, the queues and the time its sources spent paused; checkpoints;\n"
      "the workers that did not answer. With --once, or when stdout is not a terminal, prints one table and exits.\n\n"
      "Examples:\n"
      "  roo top --external 127.0.0.1:5050\n"
      "  roo top -e 127.0.0.1:5050 --interval 500ms\n"
      "  roo top -e 127.0.0.1:5050 --once");
  sub->add_option("--external,-e", options->external, "A worker's external-channel address (its --external)")
      ->required();
  sub->add_option("--interval", options->interval, "Time between two tables: 2s, 500ms, 1m, or seconds")
      ->capture_default_str()
      ->check(duration_value("--interval"));
  sub->add_flag("--once", options->once, "Print one table and exit (also when stdout is not a terminal)");
  sub->add_option("--timeout", options->timeout, "Seconds to wait for the connection, and then for each answer")
      ->capture_default_str()
      ->check(seconds_value("--timeout", /*zero_allowed=*/false));
  options->client.add_to(*sub);
  sub->callback([options] { run_top(*options); });
}

}  // namespace roo::cli
