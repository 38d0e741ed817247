#include "roo/graph/plan.hpp"

namespace roo::graph {
namespace {

const char* kind_name(SourcePlan::Kind kind) {
  switch (kind) {
    case SourcePlan::Kind::tcp:
      return "tcp";
    case SourcePlan::Kind::generator:
      return "gen";
    case SourcePlan::Kind::kafka:
      return "kafka";
  }
  return "?";
}

const char* kind_name(StagePlan::Kind kind) {
  switch (kind) {
    case StagePlan::Kind::computation:
      return "computation";
    case StagePlan::Kind::key_by:
      return "key_by";
    case StagePlan::Kind::collect:
      return "collect";
    case StagePlan::Kind::state:
      return "state";
    case StagePlan::Kind::window:
      return "window";
  }
  return "?";
}

const char* kind_name(SinkPlan::Kind kind) {
  switch (kind) {
    case SinkPlan::Kind::tcp:
      return "tcp";
    case SinkPlan::Kind::kafka:
      return "kafka";
  }
  return "?";
}

}  // namespace

std::string Plan::fingerprint() const {
  std::string text = app_name;
  for (const auto& source : sources) {
    text += std::string("|source:") + kind_name(source.kind()) + ":" + source.name;
    if (const auto* kafka = std::get_if<KafkaSourceSettings>(&source.settings)) {
      for (std::size_t i = 0; i < kafka->topics.size(); ++i) {
        text += (i == 0 ? ":topics=" : ",") + kafka->topics[i];
      }
    }
  }
  for (const auto& stage : stages) {
    text += std::string("|stage:") + kind_name(stage.kind) + ":" + stage.name;
  }
  for (const auto& sink : sinks) {
    text += std::string("|sink:") + kind_name(sink.kind()) + ":" + sink.name;
    if (const auto* kafka = std::get_if<KafkaSinkSettings>(&sink.settings)) {
      text += ":topic=" + kafka->topic;
    }
  }
  return text;
}

bool Plan::has_windows() const {
  for (const auto& stage : stages) {
    if (stage.kind == StagePlan::Kind::window) {
      return true;
    }
  }
  return false;
}

}  // namespace roo::graph
