#include "cluster_metrics_query.hpp"

#include "external_client.hpp"

#include "roo/core/endpoint.hpp"
#include "roo/core/error.hpp"
#include "roo/core/printable.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

namespace roo::cli {

using nlohmann::json;

FetchedMetrics read_metrics_answer(std::string_view payload) {
  const std::string action = "read the metrics answer: ";
  json answer = json::parse(payload, nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) {
    throw core::Error(action + "it is not a JSON object: " + core::printable(payload, 80));
  }
  auto workers = answer.find("workers");
  auto missing = answer.find("missing");
  if (workers == answer.end() || !workers->is_object() || missing == answer.end() || !missing->is_array()) {
    throw core::Error(action + "it lacks \"workers\" (an object) or \"missing\" (a list)");
  }
  FetchedMetrics fetched;
  for (const auto& name : *missing) {
    if (!name.is_string()) {
      throw core::Error(action + "\"missing\" holds something other than worker names");
    }
    fetched.cluster.missing.push_back(name.get<std::string>());
  }
  for (const auto& [name, worker_json] : workers->items()) {
    metrics::WorkerMetrics worker;
    std::string error;
    if (worker_json.empty() || !metrics::parse_worker_metrics(worker_json.dump(), worker, error)) {
      fetched.notes.push_back("worker '" + name + "' answered without metrics" +
                              (worker_json.empty() ? " (started with --no-metrics?)" : ": " + error));
      fetched.cluster.missing.push_back(name);
      continue;
    }
    worker.worker = name;
    fetched.cluster.workers.push_back(std::move(worker));
  }
  fetched.cluster.total = metrics::add_up(fetched.cluster.workers);
  return fetched;
}

FetchedMetrics fetch_cluster_metrics(const std::string& address, const ExternalClientFlags& flags,
                                     double timeout_seconds) {
  core::Endpoint worker = core::parse_endpoint(address, "--external");
  auto timeout = std::chrono::milliseconds(static_cast<long long>(timeout_seconds * 1000));
  ExternalClient client = ExternalClient::open(worker, timeout, flags.tls(), external_secret(flags.secret_file));
  client.send(ExternalMessageId::metrics_query, "", "the metrics query");
  ExternalReply reply = client.read_reply(timeout);
  client.close();
  const std::string action = "get the metrics from " + address;
  expect_frame(reply, action, timeout_seconds);
  if (reply.id == static_cast<std::uint16_t>(ExternalMessageId::auth_refused)) {
    throw core::Error(action + ": the worker refused: " + core::printable(reply.payload, 200));
  }
  if (reply.id != static_cast<std::uint16_t>(ExternalMessageId::metrics_response)) {
    throw core::Error(action + ": unexpected message id " + std::to_string(reply.id) + " (expected " +
                      std::to_string(static_cast<std::uint16_t>(ExternalMessageId::metrics_response)) + ")");
  }
  return read_metrics_answer(reply.payload);
}

}  // namespace roo::cli
