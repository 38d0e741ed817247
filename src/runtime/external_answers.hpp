#pragma once

#include "roo/cluster/cluster.hpp"
#include "roo/graph/plan.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace roo::runtime {

/// A stateless computation stage as the external channel shows it: every worker runs one step of it.
struct StatelessStep {
  std::string name;       ///< the computation's name; "<name> (2)", ... for later stages with the same name
  std::size_t stage = 0;  ///< its index in Plan::stages
};

/// The plan's stateless computation stages, named uniquely (the rule docs/description.md gives state ids).
[[nodiscard]] std::vector<StatelessStep> stateless_steps(const graph::Plan& plan);

/// What one worker knows for the external channel's queries (Wallaroo spec §2.5), gathered on the executor and
/// read when a query is answered (by the cluster, in the executor's data io_context).
struct LocalFacts {
  std::vector<std::pair<std::string, std::vector<std::string>>> state_keys;  ///< state id -> keys held here
  std::vector<std::string> source_ids;
  std::vector<StatelessStep> stateless_steps;
  cluster::Membership membership;
};

/// Keys a StateEntityQuery answer lists at most (their JSON text); beyond it the answer says it was cut.
constexpr std::size_t max_state_entity_answer_bytes = 1024 * 1024;

/// This worker's JSON answer to external request `type` (17 state entities, 21 their counts, 14 source ids,
/// 7/12 partitions by key group and worker, 19/23 stateless partitions: each stateless step on every worker of the
/// membership, step id "<stage index * 1000 + worker index>"); "{}" for anything else. A StateEntityQuery answer lists at most
/// 1 MiB of keys; when it lists fewer than there are it carries a field "roo_cut": "listed K of N keys: answers are
/// bounded to 1 MiB".
[[nodiscard]] std::string local_answer(std::uint16_t type, const LocalFacts& facts);

}  // namespace roo::runtime
