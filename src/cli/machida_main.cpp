// `machida` / `machida3`: Wallaroo's worker launcher, for running Wallaroo command lines unchanged.
#include "commands.hpp"
#include "exit_status.hpp"
#include "machida_roo_flags.hpp"
#include "worker_launch.hpp"

#include "roo/core/error.hpp"

#include <algorithm>
#include <cstdio>

namespace roo::cli {
namespace {

constexpr const char* usage =
    "usage: machida --application-module MODULE [Wallaroo flags] [application flags]\n"
    "Runs a Wallaroo Python application on Roo. MODULE is imported from PYTHONPATH or the active virtualenv\n"
    "(VIRTUAL_ENV), not from the current folder. Flags Wallaroo does not know go to the application.\n"
    "Wallaroo flags: --metrics --control --data --external --cluster-initializer --worker-count --name\n"
    "  --my-control --my-data --resilience-dir --join ... (--pony* flags are accepted and ignored)\n"
    "  To add a worker to a running cluster: --join <the initializer's control address> --name W --my-control\n"
    "  HOST:PORT --my-data HOST:PORT (docs/cluster.md, Growing and shrinking a running cluster)\n"
    "  --help, --version (prints 'machida (roo) X.Y.Z')\n"
    "Roo flags: --stuck-step-warning SECONDS (log a user call still running after this long; default 10)\n"
    "  --metrics-http HOST:PORT (serve /metrics for Prometheus, /healthz, /readyz and the dashboard)\n"
    "Roo's security flags: --cluster-secret-file PATH --external-secret-file PATH --tls-cert PATH --tls-key PATH\n"
    "  --tls-ca PATH (docs/running.md, Security)\n"
    "Example:\n"
    "  machida --application-module alphabet --in 'Alphabet'@127.0.0.1:7010 --out 127.0.0.1:7002 \\\n"
    "    --metrics 127.0.0.1:5001 --control 127.0.0.1:6000 --data 127.0.0.1:6001 --cluster-initializer "
    "--ponythreads=1\n";

}  // namespace

int machida_main(int argc, char** argv) {
  std::string program = argc > 0 ? argv[0] : "machida";
  if (auto slash = program.rfind('/'); slash != std::string::npos) {
    program = program.substr(slash + 1);
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  if (std::find(args.begin(), args.end(), "--version") != args.end()) {
    std::printf("%s (roo) %s\n", program.c_str(), ROO_VERSION);
    return exit_ok;
  }
  return exit_status_of(program.c_str(), [&] {
    LaunchRequest request;
    take_stuck_step_warning(args, request.stuck_step_warning_seconds);
    request.metrics_http = take_metrics_http(args);
    request.app_args.push_back(program);
    request.flags = take_wallaroo_flags(args, request.app_args);
    if (request.flags.help) {
      std::fputs(usage, stdout);
      return exit_ok;
    }
    if (!request.flags.application_module) {
      throw core::UsageError("start: --application-module is required (the Python module of the application)");
    }
    request.module_name = *request.flags.application_module;
    request.app_folder = "";
    request.full_argv.assign(argv, argv + argc);
    return launch_worker(request);
  });
}

}  // namespace roo::cli
