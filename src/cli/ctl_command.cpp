// `roo ctl --external H:P --type T`: send one external-channel request to a worker and print the answer
// (Wallaroo's `external_sender`).
#include "commands.hpp"
#include "exit_status.hpp"
#include "external_client.hpp"
#include "external_client_flags.hpp"
#include "flag_values.hpp"
#include "metrics_table.hpp"
#include "shrink_command.hpp"

#include "roo/core/endpoint.hpp"
#include "roo/core/error.hpp"
#include "roo/core/printable.hpp"
#include "roo/core/shared_secret.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string_view>

namespace roo::cli {
namespace {

using Id = ExternalMessageId;

/// One `--type`: the request it sends and, for queries, the response it waits for.
struct RequestType {
  const char* name;
  Id request;
  std::optional<Id> response;   ///< none: fire and forget
  const char* response_name;    ///< shown above the answer without --json
  const char* default_message;  ///< the payload when --message is not given
};

constexpr RequestType request_types[] = {
    {"clean-shutdown", Id::clean_shutdown, std::nullopt, "", ""},
    {"rotate-log", Id::rotate_log, std::nullopt, "", ""},
    {"partition-query", Id::partition_query, Id::partition_query_response, "PartitionQueryResponse", ""},
    {"partition-count-query", Id::partition_count_query, Id::partition_count_query_response,
     "PartitionCountQueryResponse", ""},
    {"cluster-status-query", Id::cluster_status_query, Id::cluster_status_response, "ClusterStatusQueryResponse", ""},
    {"source-ids-query", Id::source_ids_query, Id::source_ids_query_response, "SourceIdsQueryResponse", ""},
    {"boundary-count-status", Id::report_status, std::nullopt, "", "boundary-count-status"},
    {"state-entity-query", Id::state_entity_query, Id::state_entity_query_response, "StateEntityQueryResponse", ""},
    {"state-entity-count-query", Id::state_entity_count_query, Id::state_entity_count_query_response,
     "StateEntityCountQueryResponse", ""},
    {"cluster-state-entity-count-query", Id::cluster_state_entity_count_query,
     Id::cluster_state_entity_count_query_response, "ClusterStateEntityCountQueryResponse", ""},
    {"stateless-partition-query", Id::stateless_partition_query, Id::stateless_partition_query_response,
     "StatelessPartitionQueryResponse", ""},
    {"stateless-partition-count-query", Id::stateless_partition_count_query,
     Id::stateless_partition_count_query_response, "StatelessPartitionCountQueryResponse", ""},
    {"print", Id::print, std::nullopt, "", ""},
    {"metrics", Id::metrics_query, Id::metrics_response, "", ""},  // Roo's own: run_metrics prints it
    // Wallaroo's ShrinkRequest with the JSON of --message, and Roo's shrink, which writes it from --workers, --count
    // or --query and prints one line (run_shrink).
    {"shrink-request", Id::shrink_request, Id::shrink_query_response, "ShrinkQueryResponse", ""},
    {"shrink", Id::shrink_request, Id::shrink_query_response, "", ""},
};

constexpr std::string_view shrink_type = "shrink";

/// What Wallaroo's external_sender prints with --json when the cluster has not formed yet.
constexpr const char* not_initialized_json = "{\"processing_messages\": false}";

struct CtlOptions {
  std::string external;
  std::string type;
  std::optional<std::string> message;
  bool json = false;
  bool roo_details = false;
  double timeout = 5;
  ExternalClientFlags client;                 ///< --external-secret-file, --tls-*
  std::optional<std::string> shrink_workers;  ///< shrink --workers a,b
  std::optional<std::uint64_t> shrink_count;  ///< shrink --count N
  bool shrink_query = false;                  ///< shrink --query
};

/// The cluster-status-query payload asking a Roo worker for its additions to Wallaroo's answer.
constexpr const char* roo_details_payload = "roo-details";

std::string valid_type_names() {
  std::string names;
  for (const auto& type : request_types) {
    names += names.empty() ? "" : ", ";
    names += type.name;
  }
  return names;
}

const RequestType& find_type(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& type : request_types) {
    if (lower == type.name) {
      return type;
    }
  }
  throw core::UsageError("send --type '" + name + "': not a request type; valid types: " + valid_type_names());
}

/// Indents JSON two spaces per level for people; text that is not JSON comes out as it went in.
std::string pretty_json(const std::string& text) {
  std::string out;
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  auto newline = [&out, &depth] {
    out.push_back('\n');
    out.append(static_cast<std::size_t>(std::max(depth, 0)) * 2, ' ');
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out.push_back(c);
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out.push_back(c);
        break;
      case '{':
      case '[': {
        std::size_t next = text.find_first_not_of(" \t\r\n", i + 1);
        char closing = c == '{' ? '}' : ']';
        if (next != std::string::npos && text[next] == closing) {
          out.push_back(c);
          out.push_back(closing);
          i = next;
          break;
        }
        out.push_back(c);
        ++depth;
        newline();
        break;
      }
      case '}':
      case ']':
        --depth;
        newline();
        out.push_back(c);
        break;
      case ',':
        out.push_back(c);
        newline();
        break;
      case ':':
        out.append(": ");
        break;
      default:
        out.push_back(c);
    }
  }
  return depth == 0 && !in_string ? out : text;
}

std::chrono::milliseconds to_milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

/// A query's JSON answer: alone with --json, else under the response's name and indented.
void print_json_answer(const CtlOptions& options, const RequestType& type, const std::string& json) {
  if (options.json) {
    std::printf("%s\n", json.c_str());
  } else {
    std::printf("%s:\n%s\n", type.response_name, pretty_json(json).c_str());
  }
}

void print_answer(const CtlOptions& options, const RequestType& type, const ExternalReply& reply) {
  if (reply.id == static_cast<std::uint16_t>(Id::cluster_status_not_initialized) &&
      type.request == Id::cluster_status_query) {
    if (options.json) {
      std::printf("%s\n", not_initialized_json);
    } else {
      std::printf("ClusterStatusQueryResponseNotInitialized:\nthe cluster is not initialized yet\n");
    }
    return;
  }
  expect_answer(reply, *type.response, type.name, options.external);
  print_json_answer(options, type, reply.payload);
}

/// `roo ctl metrics`: the cluster's metrics added up, as the ClusterMetrics JSON (--json) or a table for people.
void run_metrics(const CtlOptions& options) {
  FetchedMetrics fetched = fetch_cluster_metrics(options.external, options.client, options.timeout);
  if (options.json) {
    std::printf("%s\n", nlohmann::json(fetched.cluster).dump().c_str());
    for (const auto& note : fetched.notes) {
      std::fprintf(stderr, "roo ctl: note: %s\n", note.c_str());
    }
  } else {
    std::printf("%s", metrics_table(fetched).c_str());
  }
  std::fflush(stdout);
}

/// `shrink` (from --workers, --count or --query) and `shrink-request` (Wallaroo's message, the JSON of --message).
void run_shrink_type(const CtlOptions& options, const RequestType& type) {
  ShrinkTarget target{options.external, options.timeout, options.client};
  if (type.name == shrink_type) {
    run_shrink(target, shrink_ask(options.shrink_workers, options.shrink_count, options.shrink_query), options.json);
    return;
  }
  if (!options.message) {
    throw core::UsageError(
        "send shrink-request: give the request's JSON with --message, e.g. "
        "'{\"query\":true,\"node_names\":[],\"node_count\":0}' (or use roo ctl shrink)");
  }
  print_json_answer(options, type, send_shrink_request(target, *options.message));
  std::fflush(stdout);
}

void run_ctl(const CtlOptions& options) {
  const RequestType& type = find_type(options.type);
  if ((options.shrink_workers || options.shrink_count || options.shrink_query) && type.name != shrink_type) {
    throw core::UsageError("send --workers, --count or --query with " + std::string(type.name) +
                           ": only shrink takes them");
  }
  if (options.roo_details && type.request != Id::cluster_status_query) {
    throw core::UsageError("send --roo-details with " + std::string(type.name) +
                           ": only cluster-status-query has Roo details");
  }
  if (type.request == Id::metrics_query) {
    run_metrics(options);
    return;
  }
  if (type.request == Id::shrink_request) {
    run_shrink_type(options, type);
    return;
  }
  core::Endpoint worker = core::parse_endpoint(options.external, "--external");
  auto timeout = to_milliseconds(options.timeout);
  core::SharedSecret secret = external_secret(options.client.secret_file);
  ExternalClient client = ExternalClient::open(worker, timeout, options.client.tls(), secret);
  // Queries carry no payload (as with external_sender, --message does not change them), except Roo's details.
  std::string payload = type.response ? "" : options.message.value_or(type.default_message);
  if (options.roo_details) {
    payload = roo_details_payload;
  }
  client.send(type.request, payload, type.name);
  if (!type.response) {
    if (secret.empty()) {
      client.check_not_refused(refusal_wait, "send " + std::string(type.name) + " to " + options.external);
    }
    client.close();
    return;
  }
  ExternalReply reply = client.read_reply(timeout);
  expect_frame(reply, "get an answer to " + std::string(type.name) + " from " + options.external, options.timeout);
  print_answer(options, type, reply);
  std::fflush(stdout);
}

}  // namespace

void add_ctl_command(CLI::App& app) {
  auto options = std::make_shared<CtlOptions>();
  auto* sub = app.add_subcommand("ctl", "Send one external-channel request to a worker and print the answer");
  sub->footer(
      "Wallaroo's external_sender. Queries print the worker's JSON answer (only the JSON with --json);\n"
      "print, clean-shutdown, rotate-log and boundary-count-status print nothing and exit 0 once sent.\n"
      "Types:\n  clean-shutdown, rotate-log, print, boundary-count-status (no answer)\n"
      "  cluster-status-query, source-ids-query, partition-query, partition-count-query,\n"
      "  state-entity-query, state-entity-count-query, cluster-state-entity-count-query,\n"
      "  stateless-partition-query, stateless-partition-count-query\n"
      "  metrics (Roo's: every worker's metrics, added up; a table, or the JSON of docs/metrics.md with --json)\n"
      "  shrink (Roo's: with exactly one of --workers a,b / --count N / --query; prints who leaves, or could)\n"
      "  shrink-request (Wallaroo's ShrinkRequest: --message is its JSON; prints the ShrinkQueryResponse)\n\n"
      "Examples:\n"
      "  roo ctl --external 127.0.0.1:5050 --type cluster-status-query --json\n"
      "  roo ctl -e 127.0.0.1:5050 -t print -m 'hello'\n"
      "  roo ctl -e 127.0.0.1:5050 -t cluster-status-query --roo-details\n"
      "  roo ctl metrics -e 127.0.0.1:5050 --json\n"
      "  roo ctl shrink -e 127.0.0.1:5050 --workers worker2,worker3\n"
      "  roo ctl shrink -e 127.0.0.1:5050 --query");
  sub->add_option("--external,-e", options->external, "The worker's external-channel address (its --external)")
      ->required();
  sub->add_option("type,--type,-t", options->type, "The request to send (see Types below), as --type or first")
      ->required();
  sub->add_option("--message,-m", options->message,
                  "Payload text: what print shows, the worker whose log rotate-log rotates, the clean-shutdown "
                  "note, the boundary-count-status code (default: boundary-count-status)");
  sub->add_flag("--json,-j", options->json, "Print only the answer's JSON on stdout (for scripts and harnesses)");
  sub->add_flag("--roo-details", options->roo_details,
                "cluster-status-query only: add Roo's fields to Wallaroo's answer (missing_workers: members that "
                "left or died)");
  sub->add_option("--timeout", options->timeout, "Seconds to wait for the connection, and then for the answer")
      ->capture_default_str()
      ->check(seconds_value("--timeout", /*zero_allowed=*/false));
  sub->add_option("--workers,-w", options->shrink_workers, "shrink only: the workers to leave, separated by commas");
  sub->add_option("--count,-c", options->shrink_count, "shrink only: how many workers to leave (the cluster picks)");
  sub->add_flag("--query,-q", options->shrink_query, "shrink only: print which workers could leave; change nothing");
  options->client.add_to(*sub);
  sub->callback([options] { run_ctl(*options); });
}

}  // namespace roo::cli
