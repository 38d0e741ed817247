// `roo ctl shrink` and Wallaroo's `cluster_shrinker --external H:P (--workers a,b | --count N | --query)`: ask a
// running cluster to let workers leave (docs/cluster.md, "Growing and shrinking a running cluster").
#include "shrink_command.hpp"

#include "commands.hpp"
#include "exit_status.hpp"
#include "external_client.hpp"
#include "flag_values.hpp"

#include "roo/core/endpoint.hpp"
#include "roo/core/error.hpp"
#include "roo/core/printable.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

namespace roo::cli {

std::string send_shrink_request(const ShrinkTarget& target, const std::string& payload) {
  core::Endpoint worker = core::parse_endpoint(target.external, "--external");
  auto timeout = std::chrono::milliseconds(static_cast<long long>(target.timeout_seconds * 1000));
  ExternalClient client =
      ExternalClient::open(worker, timeout, target.client.tls(), external_secret(target.client.secret_file));
  client.send(ExternalMessageId::shrink_request, payload, "shrink-request");
  ExternalReply reply = client.read_reply(timeout);
  expect_frame(reply, "get an answer to shrink-request from " + target.external, target.timeout_seconds);
  if (reply.id == static_cast<std::uint16_t>(ExternalMessageId::shrink_error_response)) {
    throw core::Error("shrink the cluster at " + target.external + ": " + core::printable(reply.payload, 1000));
  }
  expect_answer(reply, ExternalMessageId::shrink_query_response, "shrink-request", target.external);
  client.close();
  return reply.payload;
}

void run_shrink(const ShrinkTarget& target, const ShrinkAsk& ask, bool json) {
  std::string answer = send_shrink_request(target, shrink_request_json(ask));
  if (json) {
    std::printf("%s\n", answer.c_str());
  } else {
    ShrinkAnswer parsed = parse_shrink_answer(answer, "read the answer to shrink-request from " + target.external);
    std::printf("%s\n", describe_shrink(ask, parsed).c_str());
  }
  std::fflush(stdout);
}

int cluster_shrinker_main(int argc, char** argv) {
  ShrinkTarget target;
  std::optional<std::string> workers;
  std::optional<std::uint64_t> count;
  bool query = false;
  bool json = false;
  CLI::App app{"Asks a running Roo (or Wallaroo) cluster to let workers leave, or which could"};
  app.name("cluster_shrinker");
  app.footer(
      "Wallaroo's tool; the same as roo ctl shrink. Give exactly one of --workers, --count and --query.\n"
      "Examples:\n"
      "  cluster_shrinker --external 127.0.0.1:5050 --query\n"
      "  cluster_shrinker --external 127.0.0.1:5050 --workers worker1,worker2\n"
      "  cluster_shrinker -e 127.0.0.1:5050 -c 1");
  app.add_option("--external,-e", target.external, "Any worker's external-channel address (its --external)")
      ->required();
  app.add_option("--workers,-w", workers, "The workers to leave, by name, separated by commas");
  app.add_option("--count,-c", count, "How many workers to leave (the cluster picks them)");
  app.add_flag("--query,-q", query, "Print which workers could leave, and change nothing");
  app.add_flag("--json,-j", json, "Print only the answer's JSON");
  app.add_option("--timeout", target.timeout_seconds, "Seconds to wait for the connection, and then for the answer")
      ->capture_default_str()
      ->check(seconds_value("--timeout", /*zero_allowed=*/false));
  target.client.add_to(app);
  return exit_status_of("cluster_shrinker", [&] {
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      std::fprintf(stderr, "cluster_shrinker: %s\nhint: run 'cluster_shrinker --help' for usage\n", e.what());
      return exit_usage;
    }
    run_shrink(target, shrink_ask(workers, count, query), json);
    return exit_ok;
  });
}

}  // namespace roo::cli
