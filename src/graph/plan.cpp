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
    case SourcePlan::Kind::nats:
      return "nats";
    case SourcePlan::Kind::http:
      return "http";
    case SourcePlan::Kind::connector:
      return "connector";
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
    case SinkPlan::Kind::nats:
      return "nats";
    case SinkPlan::Kind::http_reply:
      return "http_reply";
    case SinkPlan::Kind::discard:
      return "discard";
    case SinkPlan::Kind::connector:
      return "connector";
  }
  return "?";
}

const char* policy_name(LatePolicy policy) {
  switch (policy) {
    case LatePolicy::drop:
      return "drop";
    case LatePolicy::fire_per_message:
      return "fire-per-message";
    case LatePolicy::place_in_oldest_window:
      return "place-in-oldest-window";
  }
  return "?";
}

// A window stage's parameters: workers that disagree on them would cut the same key's windows differently, and a
// checkpoint's window state is only meaningful to the same windows.
std::string window_text(const WindowSpec& window) {
  switch (window.kind) {
    case WindowSpec::Kind::range:
      return ":range=" + std::to_string(window.range) + ",slide=" + std::to_string(window.slide) +
             ",delay=" + std::to_string(window.delay) + ",late=" + policy_name(window.late_policy);
    case WindowSpec::Kind::count:
      return ":count=" + std::to_string(window.count) + ",timeout=" + std::to_string(window.count_timeout_ns);
    case WindowSpec::Kind::session:
      return ":gap=" + std::to_string(window.gap) + ",delay=" + std::to_string(window.delay) +
             ",late=" + policy_name(window.late_policy);
  }
  return "";
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
    if (const auto* nats = std::get_if<NatsSourceSettings>(&source.settings)) {
      text += ":subject=" + nats->subject;
    }
  }
  for (const auto& stage : stages) {
    text += std::string("|stage:") + kind_name(stage.kind) + ":" + stage.name;
    if (stage.kind == StagePlan::Kind::window) {
      text += window_text(stage.window);
    }
  }
  for (const auto& sink : sinks) {
    text += std::string("|sink:") + kind_name(sink.kind()) + ":" + sink.name;
    if (const auto* kafka = std::get_if<KafkaSinkSettings>(&sink.settings)) {
      text += ":topic=" + kafka->topic;
    }
    if (const auto* nats = std::get_if<NatsSinkSettings>(&sink.settings)) {
      text += ":subject=" + nats->subject;
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
