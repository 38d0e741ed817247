// Which applications may grow and shrink while they run (ClusterConfig::rescale_refusal), decided from the plan.
#include "rescale_refusal.hpp"

#include "runner_fixtures.hpp"

#include <gtest/gtest.h>

namespace roo::runtime {
namespace {

using test::plan_of;

TEST(RescaleRefusal, KeyedStateOverTcpOrAGeneratorMayRescale) {
  EXPECT_EQ(rescale_refusal(plan_of("keyed_count")), "");
  EXPECT_EQ(rescale_refusal(plan_of("generator")), "");
}

TEST(RescaleRefusal, TransactionalSinksMayRescale) {
  // With checkpoints, a leaver's output not committed goes to the initializer's transaction (SinkOutputRelay).
  auto plan = plan_of("keyed_count");
  plan.sinks[0].settings = graph::KafkaSinkSettings{};
  EXPECT_EQ(rescale_refusal(plan), "");
  plan.sinks[0].settings = graph::ConnectorSinkSettings{};
  EXPECT_EQ(rescale_refusal(plan), "");
}

TEST(RescaleRefusal, KafkaSourcesAndWindowsMayRescale) {
  auto plan = plan_of("keyed_count");
  plan.sources[0].name = "orders";
  plan.sources[0].settings = graph::KafkaSourceSettings{};
  EXPECT_EQ(rescale_refusal(plan), "");  // partitions move with their positions
  plan = plan_of("keyed_count");
  plan.stages.back().kind = graph::StagePlan::Kind::window;
  EXPECT_EQ(rescale_refusal(plan), "");  // windows move with their keys
}

/// `plan` with its first source made an HTTP source named "orders", and (answered) its first sink its replies.
graph::Plan with_http_source(graph::Plan plan, bool answered) {
  plan.sources[0].name = "orders";
  plan.sources[0].settings = graph::HttpSourceSettings{};
  if (answered) {
    plan.sinks[0].settings = graph::HttpReplySinkSettings{0, "orders"};
  }
  return plan;
}

TEST(RescaleRefusal, HttpSourcesAnsweredByAKeyedStepAreRefused) {
  auto plan = with_http_source(plan_of("keyed_count"), true);
  std::string routed = plan.stages[plan.flows[0].stages.front()].name;
  EXPECT_EQ(rescale_refusal(plan),
            "rescaling is not supported with HTTP source 'orders' answering through keyed step '" + routed +
                "' (a request is answered by the worker that read it, and a rescale sends its key elsewhere)");
}

TEST(RescaleRefusal, HttpSourcesAnsweredWhereTheyAreReadOrNotAtAllMayRescale) {
  // Stateless steps run on the worker that read the request: its answer is made there, whoever owns which key.
  EXPECT_EQ(rescale_refusal(with_http_source(plan_of("split_filter"), true)), "");
  // Keyed, but nothing answers through the pipeline (ignore_response: answered on receipt).
  EXPECT_EQ(rescale_refusal(with_http_source(plan_of("keyed_count"), false)), "");
}

}  // namespace
}  // namespace roo::runtime
