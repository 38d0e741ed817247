#include "cluster_core.hpp"
#include "cluster_log.hpp"
#include "external_request.hpp"
#include "external_authentication.hpp"
#include "roo/core/json.hpp"
#include "roo/core/printable.hpp"

#include <boost/asio/post.hpp>

namespace roo::cluster {

using core::json_quote;
using core::JsonValue;
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

}  // namespace

std::string ClusterCore::local_answer(std::uint16_t type) const {
  return hooks_.local_answer ? hooks_.local_answer(type) : "{}";
}

// Wallaroo's shape exactly; `roo_details` (a ClusterStatusQuery whose payload is "roo-details", sent by
// `roo ctl --roo-details`) adds Roo's "missing_workers".
std::string ClusterCore::status_json(bool roo_details) const {
  std::string names;
  std::string missing;
  std::size_t live = 0;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    std::string& list = is_live(i) ? names : missing;
    live += is_live(i) ? 1 : 0;
    list += (list.empty() ? "" : ",") + json_quote(name_of(i));
  }
  std::string details = roo_details ? ",\"missing_workers\":[" + missing + "]" : "";
  return "{\"worker_count\":" + std::to_string(live) + ",\"worker_names\":[" + names +
         "],\"processing_messages\":true" + details + "}";
}

void ClusterCore::on_external_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot) {
  if (phase_ == Phase::closed) {
    return;
  }
  auto connection = make_connection(std::move(stream), "external", false);
  connection->hold(std::move(slot));
  unidentified_.insert(connection);
  connection->start(
      authenticate_external_first(
          config_.external_secret,
          [this](FramedConnection& c, const char* body, std::size_t size) { return on_external_frame(c, body, size); },
          [](FramedConnection& c) { c.set_max_frame_bytes(external_max_frame_bytes); }),
      [this](FramedConnection& c, const std::string&) { unidentified_.erase(c.shared_from_this()); });
}

FrameAction ClusterCore::on_external_frame(FramedConnection& connection, const char* body, std::size_t size) {
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
      request_stop();
      return FrameAction::proceed;
    case cluster_status_query:
      if (formed_ && membership_ready_) {
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
      respond(connection, static_cast<std::uint16_t>(id + 1), local_answer(id));
      return FrameAction::proceed;
    case partition_query:
    case partition_count_query:
    case cluster_state_entity_count_query: {
      std::weak_ptr<FramedConnection> weak = connection.weak_from_this();
      // ClusterStateEntityCount is every worker's StateEntityCount, keyed by worker name.
      std::uint16_t local_type = id == cluster_state_entity_count_query ? std::uint16_t{state_entity_count_query} : id;
      gather(local_type, [this, weak, id](GatheredAnswers answers) {
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
          JsonValue merged;
          merged.kind = JsonValue::Kind::object;
          for (const auto& [index, json] : answers) {
            if (auto part = parse_json(json); part && part->kind == JsonValue::Kind::object) {
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
    default:
      connection.fail("unknown message id " + std::to_string(id));
      return FrameAction::stop;
  }
}

std::string ClusterCore::worker_name(std::size_t index) const {
  return membership_ready_ && index < membership_.workers.size() ? membership_.workers[index].name
                                                                 : config_.worker_name;
}

// Collects every live worker's local answer to `type`; `done` always runs later on the strand, never inside gather().
void ClusterCore::gather(std::uint16_t type, std::function<void(GatheredAnswers)> done) {
  std::size_t self = membership_ready_ ? membership_.self : 0;
  bool alone = !formed_ || !membership_ready_ || peers_.size() == 1 || (!config_.initializer && !is_live(0));
  if (alone) {
    GatheredAnswers answers{{self, local_answer(type)}};
    asio::post(strand_, [done = std::move(done), answers = std::move(answers)]() mutable { done(std::move(answers)); });
    return;
  }
  std::uint64_t id = next_gather_id_++;
  if (!config_.initializer) {
    asked_[id] = Asked{type, std::move(done)};
    peers_[0].control->write(message(MessageType::gather_request).u64(id).u16(type).take());
    return;
  }
  Gather& collecting = gathers_[id];
  collecting.type = type;
  collecting.done = std::move(done);
  collecting.answers[self] = local_answer(type);
  for (std::size_t i = 1; i < peers_.size(); ++i) {
    if (is_live(i)) {
      collecting.awaiting.insert(i);
      peers_[i].control->write(message(MessageType::local_query).u64(id).u16(type).take());
    }
  }
  if (collecting.awaiting.empty()) {
    settle_gathers(0);
  }
}

void ClusterCore::on_gather_request(std::size_t index, std::uint64_t id, std::uint16_t type) {
  gather(type, [this, index, id](GatheredAnswers answers) {
    if (!is_live(index) || !peers_[index].control) {
      return;
    }
    core::BigEndianWriter reply = message(MessageType::gather_reply);
    reply.u64(id).u32(static_cast<std::uint32_t>(answers.size()));
    for (const auto& [worker, json] : answers) {
      reply.u32(static_cast<std::uint32_t>(worker)).str(json);
    }
    peers_[index].control->write(reply.take());
  });
}

void ClusterCore::on_local_answer(std::size_t index, std::uint64_t id, std::string json) {
  auto found = gathers_.find(id);
  if (found == gathers_.end() || found->second.awaiting.erase(index) == 0) {
    return;
  }
  found->second.answers[index] = std::move(json);
  settle_gathers(index);
}

// Completes what no longer waits for anyone: on the initializer, gathers whose last awaited worker answered or was
// lost; on a worker that lost the initializer, everything it asked for (with its own answer only). The callbacks
// run later on the strand, never inside the caller.
void ClusterCore::settle_gathers(std::size_t lost_index) {
  std::vector<std::pair<std::function<void(GatheredAnswers)>, GatheredAnswers>> finished;
  if (config_.initializer) {
    for (auto it = gathers_.begin(); it != gathers_.end();) {
      it->second.awaiting.erase(lost_index);
      if (it->second.awaiting.empty()) {
        finished.emplace_back(std::move(it->second.done), std::move(it->second.answers));
        it = gathers_.erase(it);
      } else {
        ++it;
      }
    }
  } else if (!is_live(0)) {
    for (auto& [id, asked] : asked_) {
      finished.emplace_back(std::move(asked.done), GatheredAnswers{{membership_.self, local_answer(asked.type)}});
    }
    asked_.clear();
  }
  for (auto& [done, answers] : finished) {
    asio::post(strand_, [done = std::move(done), answers = std::move(answers)]() mutable { done(std::move(answers)); });
  }
}

}  // namespace roo::cluster
