#pragma once

#include "roo/graph/plan.hpp"

#include <string>

namespace roo::runtime {

/// Why a cluster running `plan` cannot grow or shrink while it runs (cluster::ClusterConfig::rescale_refusal), in
/// one line; empty when it can. Refused is whatever a rescale does not move correctly yet: an HTTP source whose
/// answers come from a keyed step (a request is answered by the worker that read it, and a rescale routes its key
/// elsewhere). HTTP sources answered by stateless steps, or not at all (`ignore_response`), may rescale. Windows move
/// with their keys, Kafka partitions with their positions (Worker, docs/kafka.md), and with checkpoints a leaver's
/// transactional sink output not committed (Kafka, connector) goes to the initializer's (SinkOutputRelay).
[[nodiscard]] std::string rescale_refusal(const graph::Plan& plan);

}  // namespace roo::runtime
