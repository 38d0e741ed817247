#include "rescale_refusal.hpp"

#include <fmt/format.h>

namespace roo::runtime {

std::string rescale_refusal(const graph::Plan& plan, bool checkpoints) {
  for (const auto& sink : plan.sinks) {
    bool transactional = sink.kind() == graph::SinkPlan::Kind::kafka || sink.kind() == graph::SinkPlan::Kind::connector;
    if (checkpoints && transactional) {
      return fmt::format(
          "rescaling with checkpoints is not supported with transactional sink '{}' (a leaving worker's output "
          "since its last checkpoint would not be committed)",
          sink.name);
    }
  }
  for (const auto& source : plan.sources) {
    switch (source.kind()) {
      case graph::SourcePlan::Kind::http:
        return fmt::format(
            "rescaling is not supported with HTTP source '{}' (a request is answered by the worker "
            "that read it)",
            source.name);
      case graph::SourcePlan::Kind::kafka:  // its partitions move with their positions (docs/kafka.md)
      case graph::SourcePlan::Kind::tcp:
      case graph::SourcePlan::Kind::generator:
      case graph::SourcePlan::Kind::nats:
      case graph::SourcePlan::Kind::connector:
        break;
    }
  }
  return {};
}

}  // namespace roo::runtime
