#pragma once

#include "roo/graph/plan.hpp"

#include <string>

namespace roo::runtime {

/// Why a cluster running `plan` cannot grow or shrink while it runs (cluster::ClusterConfig::rescale_refusal), in
/// one line; empty when it can. Refused is whatever a rescale does not move correctly yet: with checkpoints,
/// transactional sinks (Kafka, connector: a leaver's output since its last part would be aborted); an HTTP source
/// whose answers come from a keyed step (a request is answered by the worker that read it, and a rescale routes its
/// key elsewhere). HTTP sources answered by stateless steps, or not at all (`ignore_response`), may rescale.
/// Windows move with their keys, and Kafka partitions with their positions (Worker, docs/kafka.md).
[[nodiscard]] std::string rescale_refusal(const graph::Plan& plan, bool checkpoints);

}  // namespace roo::runtime
