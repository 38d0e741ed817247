#pragma once

#include "roo/graph/plan.hpp"

#include <string>

namespace roo::runtime {

/// Why a cluster running `plan` cannot grow or shrink while it runs (cluster::ClusterConfig::rescale_refusal), in
/// one line; empty when it can. Refused is whatever a rescale does not move correctly yet: with checkpoints,
/// transactional sinks (Kafka, connector: a leaver's output since its last part would be aborted); HTTP sources
/// always (a request's answer comes from the worker that read it, and its events may then be routed elsewhere).
/// Windows move with their keys, and Kafka partitions with their positions (Worker, docs/kafka.md).
[[nodiscard]] std::string rescale_refusal(const graph::Plan& plan, bool checkpoints);

}  // namespace roo::runtime
