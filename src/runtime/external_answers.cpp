#include "external_answers.hpp"

#include "roo/core/json.hpp"

#include <set>

namespace roo::runtime {
namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    out += (i == 0 ? "" : ",") + parts[i];
  }
  return out;
}

/// {"<step>": {"<worker>": ["<step id>"] or 1}} for every stateless step: every worker runs one of each (a worker
/// that left the cluster by shrinking runs none).
std::string stateless_partitions(const LocalFacts& facts, bool counts) {
  std::vector<std::string> steps;
  for (const auto& step : facts.stateless_steps) {
    std::vector<std::string> workers;
    for (std::size_t w = 0; w < facts.membership.workers.size(); ++w) {
      if (facts.membership.has_departed(w)) {
        continue;
      }
      std::string value = counts ? "1" : "[" + core::json_quote(std::to_string(step.stage * 1000 + w)) + "]";
      workers.push_back(core::json_quote(facts.membership.workers[w].name) + ":" + value);
    }
    steps.push_back(core::json_quote(step.name) + ":{" + join(workers) + "}");
  }
  return "{" + join(steps) + "}";
}

/// {"<state>": {"<worker>": [key groups or their count]}} for every state table, from the membership alone (its
/// owners table; a worker that left is not listed).
std::string partitions(const LocalFacts& facts, bool counts) {
  std::vector<std::string> states;
  for (const auto& [state, keys] : facts.state_keys) {
    std::vector<std::string> workers;
    for (std::size_t w = 0; w < facts.membership.workers.size(); ++w) {
      if (facts.membership.has_departed(w)) {
        continue;
      }
      std::vector<std::string> groups;
      for (std::uint32_t group = 0; group < facts.membership.key_groups; ++group) {
        if (facts.membership.owner(group) == w) {
          groups.push_back(std::to_string(group));
        }
      }
      std::string value = counts ? std::to_string(groups.size()) : "[" + join(groups) + "]";
      workers.push_back(core::json_quote(facts.membership.workers[w].name) + ":" + value);
    }
    states.push_back(core::json_quote(state) + ":{" + join(workers) + "}");
  }
  return "{\"state_partitions\":{" + join(states) + "},\"stateless_partitions\":" +
         stateless_partitions(facts, counts) + "}";
}

/// {"<state>": ["k1", ...]} with at most max_state_entity_answer_bytes of keys; when some are left out, the
/// field "roo_cut" says how many were listed (docs/running.md, Security).
std::string state_entities(const LocalFacts& facts) {
  std::vector<std::string> states;
  std::size_t bytes = 0;
  std::size_t listed = 0;
  std::size_t total = 0;
  for (const auto& [state, keys] : facts.state_keys) {
    std::vector<std::string> quoted;
    total += keys.size();
    for (const auto& key : keys) {
      if (bytes >= max_state_entity_answer_bytes) {
        break;
      }
      quoted.push_back(core::json_quote(key));
      bytes += quoted.back().size() + 1;
      ++listed;
    }
    states.push_back(core::json_quote(state) + ":[" + join(quoted) + "]");
  }
  if (listed < total) {
    states.push_back("\"roo_cut\":" + core::json_quote("listed " + std::to_string(listed) + " of " +
                                                       std::to_string(total) + " keys: answers are bounded to 1 MiB"));
  }
  return "{" + join(states) + "}";
}

}  // namespace

std::vector<StatelessStep> stateless_steps(const graph::Plan& plan) {
  std::vector<StatelessStep> steps;
  std::set<std::string> taken;
  for (std::size_t i = 0; i < plan.stages.size(); ++i) {
    if (plan.stages[i].kind != graph::StagePlan::Kind::computation) {
      continue;
    }
    std::string name = plan.stages[i].name;
    for (int n = 2; taken.count(name) != 0; ++n) {
      name = plan.stages[i].name + " (" + std::to_string(n) + ")";
    }
    taken.insert(name);
    steps.push_back(StatelessStep{name, i});
  }
  return steps;
}

std::string local_answer(std::uint16_t type, const LocalFacts& facts) {
  switch (type) {
    case 17:  // StateEntityQuery
      return state_entities(facts);
    case 21: {  // StateEntityCountQuery
      std::vector<std::string> states;
      for (const auto& [state, keys] : facts.state_keys) {
        states.push_back(core::json_quote(state) + ":" + std::to_string(keys.size()));
      }
      return "{" + join(states) + "}";
    }
    case 14: {  // SourceIdsQuery
      std::vector<std::string> ids;
      for (const auto& id : facts.source_ids) {
        ids.push_back(core::json_quote(id));
      }
      return "{\"source_ids\":[" + join(ids) + "]}";
    }
    case 7:
      return partitions(facts, false);
    case 12:
      return partitions(facts, true);
    case 19:  // StatelessPartitionQuery
      return stateless_partitions(facts, false);
    case 23:  // StatelessPartitionCountQuery
      return stateless_partitions(facts, true);
    default:
      return "{}";
  }
}

}  // namespace roo::runtime
