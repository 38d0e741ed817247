#include "external_channel.hpp"

#include "cluster_log.hpp"
#include "external_authentication.hpp"
#include "external_request.hpp"

#include "roo/core/json.hpp"
#include "roo/core/printable.hpp"

#include <boost/asio/post.hpp>

namespace roo::cluster {

using core::json_quote;
using core::merge_json;
using core::parse_json;
using core::to_json;
namespace {

/// Bytes of a Print message's text that reach the log; the rest is counted.
constexpr std::size_t external_print_max_bytes = 4096;

/// External message ids (spec §2.5).
enum ExternalId : std::uint16_t {
  print = 1,
  clean_shutdown = 3,
  shrink_request = 4,
  shrink_answer = 5,
  shrink_error = 6,
  partition_query = 7,
  cluster_status_query = 9,
  cluster_status_not_initialized = 11,
  partition_count_query = 12,
  source_ids_query = 14,
  state_entity_query = 17,
  stateless_partition_query = 19,
  state_entity_count_query = 21,
  stateless_partition_count_query = 23,
  cluster_state_entity_count_query = 25,
  // Roo's own, beyond Wallaroo's ids and the external secret's (200-204): the same id as the local query type.
  roo_metrics_query = metrics_query,  ///< -> roo_metrics_query + 1: every worker's metrics (docs/cluster.md)
};

/// The ClusterStatusQuery payload asking for Roo's additions to Wallaroo's answer (Wallaroo's clients send none).
constexpr std::string_view roo_details_payload = "roo-details";

void respond(FramedConnection& connection, std::uint16_t id, const std::string& payload) {
  const char header[2] = {static_cast<char>(id >> 8), static_cast<char>(id & 0xFF)};
  connection.write(header, 2, std::vector<char>(payload.begin(), payload.end()));
}

std::string trimmed_or_empty_object(const std::string& json) {
  auto first = json.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return "{}";
  }
  auto last = json.find_last_not_of(" \t\r\n");
  return json.substr(first, last - first + 1);
}

/// The metrics query's answer: `{"workers":{"<name>":<its metrics JSON>,...},"missing":["<name>",...]}`. The
/// answers are passed through as the workers wrote them (the cluster knows nothing of metrics; `roo ctl metrics`
/// reads them), only checked to be JSON objects, so that one bad answer cannot spoil the whole document.
std::string metrics_answer(GatheredByName gathered) {
  std::string workers;
  for (auto& [name, json] : gathered.answers) {
    std::string answer = trimmed_or_empty_object(json);
    if (answer.front() != '{' || !nlohmann::json::accept(answer)) {
      cluster_logger()->warn(
          "cluster: worker '{}' answered the metrics query with something other than a JSON "
          "object; listing it as missing",
          name);
      gathered.missing.push_back(std::move(name));
      continue;
    }
    workers += (workers.empty() ? "" : ",") + json_quote(name) + ":" + answer;
  }
  std::string missing;
  for (const auto& name : gathered.missing) {
    missing += (missing.empty() ? "" : ",") + json_quote(name);
  }
  return "{\"workers\":{" + workers + "},\"missing\":[" + missing + "]}";
}

}  // namespace

// Wallaroo's shape exactly; `roo_details` (a ClusterStatusQuery whose payload is "roo-details", sent by
// `roo ctl --roo-details`) adds Roo's "missing_workers".
std::string ExternalChannel::status_json(bool roo_details) const {
  std::string names;
  std::string missing;
  std::size_t live = 0;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (members_.departed(i) && !(members_.lost(i) && members_.owns_key_groups(i))) {
      continue;  // it left, or was lost owning nothing (a joiner), or a rescale has dealt its key groups out since
    }
    std::string& list = members_.is_live(i) ? names : missing;
    live += members_.is_live(i) ? 1 : 0;
    list += (list.empty() ? "" : ",") + json_quote(members_.name_of(i));
  }
  std::string details = roo_details ? ",\"missing_workers\":[" + missing + "]" : "";
  return "{\"worker_count\":" + std::to_string(live) + ",\"worker_names\":[" + names +
         "],\"processing_messages\":" + (rescale_.in_progress() ? "false" : "true") + details + "}";
}

void ExternalChannel::on_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot) {
  if (lifecycle_.phase == Phase::closed) {
    return;
  }
  auto connection = connections_.make(std::move(stream), "external", false);
  connection->hold(std::move(slot));
  connections_.hold_unidentified(connection);
  connection->start(
      authenticate_external_first(
          config_.external_secret,
          [this](FramedConnection& c, const char* body, std::size_t size) { return on_frame(c, body, size); },
          [](FramedConnection& c) { c.set_max_frame_bytes(external_max_frame_bytes); }),
      [this](FramedConnection& c, const std::string&) { connections_.forget_unidentified(c.shared_from_this()); });
}

FrameAction ExternalChannel::on_frame(FramedConnection& connection, const char* body, std::size_t size) {
  std::string error;
  std::optional<ExternalRequest> request = decode_external_request(body, size, error);
  if (!request) {
    connection.fail(error);
    return FrameAction::stop;
  }
  const std::uint16_t id = request->id;
  const std::string_view payload = request->payload;
  switch (id) {
    case print:
      // Escaped and cut: a client's text cannot forge log lines.
      cluster_logger()->info("$$$ ExternalPrint: {} $$$", core::printable(payload, external_print_max_bytes));
      return FrameAction::proceed;
    case clean_shutdown:
      cluster_logger()->info("cluster: clean shutdown requested by {}", connection.peer());
      request_stop_();
      return FrameAction::proceed;
    case shrink_request: {
      cluster_logger()->info("cluster: shrink requested by {}: {}", connection.peer(), core::printable(payload, 200));
      std::weak_ptr<FramedConnection> weak = connection.weak_from_this();
      rescale_.request_shrink(payload, [weak](bool accepted, const std::string& answer) {
        if (auto waiting = weak.lock(); waiting && !waiting->closed()) {
          respond(*waiting, accepted ? shrink_answer : shrink_error, answer);
          waiting->resume();
        }
      });
      return FrameAction::pause;
    }
    case cluster_status_query:
      if (lifecycle_.formed && members_.ready()) {
        respond(connection, cluster_status_query + 1, status_json(payload == roo_details_payload));
      } else {
        respond(connection, cluster_status_not_initialized, "");
      }
      return FrameAction::proceed;
    case source_ids_query:
    case state_entity_query:
    case stateless_partition_query:
    case state_entity_count_query:
    case stateless_partition_count_query:
      respond(connection, static_cast<std::uint16_t>(id + 1), queries_.local_answer(id));
      return FrameAction::proceed;
    case partition_query:
    case partition_count_query:
    case cluster_state_entity_count_query: {
      std::weak_ptr<FramedConnection> weak = connection.weak_from_this();
      // ClusterStateEntityCount is every worker's StateEntityCount, keyed by worker name.
      std::uint16_t local_type = id == cluster_state_entity_count_query ? std::uint16_t{state_entity_count_query} : id;
      queries_.gather(local_type, [this, weak, id](GatheredAnswers answers) {
        auto waiting = weak.lock();
        if (!waiting || waiting->closed()) {
          return;
        }
        std::string response;
        if (id == cluster_state_entity_count_query) {
          for (const auto& [index, json] : answers) {
            response +=
                (response.empty() ? "{" : ",") + json_quote(worker_name(index)) + ":" + trimmed_or_empty_object(json);
          }
          response += response.empty() ? "{}" : "}";
        } else {
          nlohmann::ordered_json merged = nlohmann::ordered_json::object();
          for (const auto& [index, json] : answers) {
            if (auto part = parse_json(json); part && part->is_object()) {
              merge_json(merged, *part);
            } else {
              cluster_logger()->warn(
                  "cluster: worker '{}' answered query {} with something other than a JSON object; "
                  "leaving it out",
                  worker_name(index), id);
            }
          }
          response = to_json(merged);
        }
        respond(*waiting, static_cast<std::uint16_t>(id + 1), response);
        waiting->resume();
      });
      return FrameAction::pause;
    }
    case roo_metrics_query: {
      std::weak_ptr<FramedConnection> weak = connection.weak_from_this();
      queries_.gather(metrics_query, [this, weak](GatheredAnswers answers) {
        auto waiting = weak.lock();
        if (!waiting || waiting->closed()) {
          return;
        }
        respond(*waiting, roo_metrics_query + 1, metrics_answer(queries_.by_name(std::move(answers))));
        waiting->resume();
      });
      return FrameAction::pause;
    }
    default:
      connection.fail("unknown message id " + std::to_string(id));
      return FrameAction::stop;
  }
}

std::string ExternalChannel::worker_name(std::size_t index) const {
  const auto& workers = members_.membership().workers;
  return members_.ready() && index < workers.size() ? workers[index].name : config_.worker_name;
}

}  // namespace roo::cluster
