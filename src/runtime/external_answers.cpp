#include "external_answers.hpp"

#include <fmt/format.h>

namespace roo::runtime {
namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    out += (i == 0 ? "" : ",") + parts[i];
  }
  return out;
}

/// {"<state>": {"<worker>": [key groups or their count]}} for every state table, from the membership alone.
std::string partitions(const LocalFacts& facts, bool counts) {
  std::vector<std::string> states;
  for (const auto& [state, keys] : facts.state_keys) {
    std::vector<std::string> workers;
    for (std::size_t w = 0; w < facts.membership.workers.size(); ++w) {
      std::vector<std::string> groups;
      for (std::uint32_t group = 0; group < facts.membership.key_groups; ++group) {
        if (facts.membership.owner(group) == w) {
          groups.push_back(std::to_string(group));
        }
      }
      std::string value = counts ? std::to_string(groups.size()) : "[" + join(groups) + "]";
      workers.push_back(json_string(facts.membership.workers[w].name) + ":" + value);
    }
    states.push_back(json_string(state) + ":{" + join(workers) + "}");
  }
  return "{\"state_partitions\":{" + join(states) + "},\"stateless_partitions\":{}}";
}

}  // namespace

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string local_answer(std::uint16_t type, const LocalFacts& facts) {
  switch (type) {
    case 17: {  // StateEntityQuery
      std::vector<std::string> states;
      for (const auto& [state, keys] : facts.state_keys) {
        std::vector<std::string> quoted;
        for (const auto& key : keys) {
          quoted.push_back(json_string(key));
        }
        states.push_back(json_string(state) + ":[" + join(quoted) + "]");
      }
      return "{" + join(states) + "}";
    }
    case 21: {  // StateEntityCountQuery
      std::vector<std::string> states;
      for (const auto& [state, keys] : facts.state_keys) {
        states.push_back(json_string(state) + ":" + std::to_string(keys.size()));
      }
      return "{" + join(states) + "}";
    }
    case 14: {  // SourceIdsQuery
      std::vector<std::string> ids;
      for (const auto& id : facts.source_ids) {
        ids.push_back(json_string(id));
      }
      return "{\"source_ids\":[" + join(ids) + "]}";
    }
    case 7:
      return partitions(facts, false);
    case 12:
      return partitions(facts, true);
    default:
      return "{}";
  }
}

}  // namespace roo::runtime
