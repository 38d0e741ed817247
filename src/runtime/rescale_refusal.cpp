#include "rescale_refusal.hpp"

#include <fmt/format.h>

namespace roo::runtime {
namespace {

/// The first stage of `flow` whose events go to their key's owner (null: every stage runs where the event was read).
const graph::StagePlan* first_routed_stage(const graph::Plan& plan, const graph::Flow& flow) {
  for (std::size_t index : flow.stages) {
    const auto& stage = plan.stages[index];
    switch (stage.kind) {
      case graph::StagePlan::Kind::key_by:
      case graph::StagePlan::Kind::collect:
      case graph::StagePlan::Kind::state:
      case graph::StagePlan::Kind::window:
        return &stage;
      case graph::StagePlan::Kind::computation:
        break;
    }
  }
  return nullptr;
}

/// Whether `flow` ends in a sink that answers its HTTP source's requests.
bool answers_requests(const graph::Plan& plan, const graph::Flow& flow) {
  for (std::size_t index : flow.sinks) {
    if (plan.sinks[index].kind() == graph::SinkPlan::Kind::http_reply) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string rescale_refusal(const graph::Plan& plan) {
  for (std::size_t index = 0; index < plan.sources.size(); ++index) {
    const auto& source = plan.sources[index];
    if (source.kind() != graph::SourcePlan::Kind::http || index >= plan.flows.size()) {
      continue;  // Kafka partitions move with their positions (docs/kafka.md); TCP, NATS, connectors reconnect
    }
    // A request is answered by the worker that read it: fine while its answer is made there too. A keyed step
    // would send the event to its key's owner, which a rescale changes, and nobody there waits for the answer.
    const auto& flow = plan.flows[index];
    const auto* routed = first_routed_stage(plan, flow);
    if (routed != nullptr && answers_requests(plan, flow)) {
      return fmt::format(
          "rescaling is not supported with HTTP source '{}' answering through keyed step '{}' (a request is "
          "answered by the worker that read it, and a rescale sends its key elsewhere)",
          source.name, routed->name);
    }
  }
  return {};
}

}  // namespace roo::runtime
