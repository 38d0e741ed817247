#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace roo::runtime {

struct WorkerOptions {
  std::string module_name;              ///< the application module to import
  std::string app_folder;               ///< put on sys.path before importing (empty: none)
  std::vector<std::string> app_args;    ///< what application_setup(args) receives
  std::vector<std::string> full_argv;   ///< wallaroo._ARGS
  std::string worker_name = "initializer";
  std::chrono::milliseconds drain_timeout{10000};  ///< at shutdown, how long sinks may take to take the rest
};

/// Runs one worker until SIGINT/SIGTERM: embeds Python, loads the application, starts its sources and sinks,
/// and serves the Python executor on the calling thread. On a stop signal the sources stop, events in flight
/// drain to the sinks, and it returns 0 (1 if a sink could not take everything before drain_timeout).
/// Throws core::UsageError / core::Error for setup failures.
[[nodiscard]] int run_worker(const WorkerOptions& options);

}  // namespace roo::runtime
