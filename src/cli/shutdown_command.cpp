// `roo shutdown --external H:P` and Wallaroo's `cluster_shutdown H:P`: ask a cluster to stop cleanly.
#include "commands.hpp"
#include "exit_status.hpp"
#include "external_client.hpp"
#include "external_client_flags.hpp"
#include "flag_values.hpp"

#include "roo/core/endpoint.hpp"
#include "roo/core/error.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

namespace roo::cli {
namespace {

struct ShutdownOptions {
  std::string external;
  double timeout = 5;
  ExternalClientFlags client;  ///< --external-secret-file, --tls-*
};

/// Sends CleanShutdown; the worker that gets it stops the whole cluster. Throws core::Error.
void send_clean_shutdown(const std::string& address, double timeout_seconds,
                         const std::optional<std::string>& secret_file,
                         const std::optional<core::TlsFiles>& tls = std::nullopt) {
  core::Endpoint worker = core::parse_endpoint(address, "--external");
  auto timeout = std::chrono::milliseconds(static_cast<long long>(timeout_seconds * 1000));
  core::SharedSecret secret = external_secret(secret_file);
  ExternalClient client = ExternalClient::connect(worker, timeout, tls);
  if (!secret.empty()) {
    client.authenticate(secret, timeout);
  }
  client.send(ExternalMessageId::clean_shutdown, "", "clean-shutdown");
  if (secret.empty()) {
    client.check_not_refused(refusal_wait, "shut down the cluster at " + address);
  }
  client.close();
}

constexpr const char* cluster_shutdown_usage =
    "usage: cluster_shutdown HOST:PORT\n"
    "Asks the Roo (or Wallaroo) cluster whose worker serves the external channel at HOST:PORT to shut down\n"
    "cleanly: every worker stops and exits 0. Same as: roo shutdown --external HOST:PORT\n";

}  // namespace

void add_shutdown_command(CLI::App& app) {
  auto options = std::make_shared<ShutdownOptions>();
  auto* sub = app.add_subcommand("shutdown", "Stop a running cluster cleanly through a worker's external channel");
  sub->footer(
      "Sends CleanShutdown to one worker, which stops every worker of its cluster; exits 0 once sent.\n"
      "Wallaroo's cluster_shutdown HOST:PORT (a symlink to roo) does the same.\n\n"
      "Example:\n"
      "  roo shutdown --external 127.0.0.1:5050");
  sub->add_option("--external,-e", options->external, "The worker's external-channel address (its --external)")
      ->required();
  sub->add_option("--timeout", options->timeout, "Seconds to wait for the connection")
      ->capture_default_str()
      ->check(seconds_value("--timeout", /*zero_allowed=*/false));
  options->client.add_to(*sub);
  sub->callback([options] {
    send_clean_shutdown(options->external, options->timeout, options->client.secret_file, options->client.tls());
  });
}

int cluster_shutdown_main(int argc, char** argv) {
  const char* program = "cluster_shutdown";
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(cluster_shutdown_usage, stdout);
    return exit_ok;
  }
  if (argc != 2) {
    std::fprintf(stderr, "%s: unable to start: expected one argument, the worker's external address HOST:PORT\n%s",
                 program, cluster_shutdown_usage);
    return exit_usage;
  }
  return exit_status_of(program, [&] {
    send_clean_shutdown(argv[1], 5, std::nullopt);
    return exit_ok;
  });
}

}  // namespace roo::cli
