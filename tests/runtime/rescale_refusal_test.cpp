// Which applications may grow and shrink while they run (ClusterConfig::rescale_refusal), decided from the plan.
#include "rescale_refusal.hpp"

#include "runner_fixtures.hpp"

#include <gtest/gtest.h>

namespace roo::runtime {
namespace {

using test::plan_of;

TEST(RescaleRefusal, KeyedStateOverTcpOrAGeneratorMayRescale) {
  EXPECT_EQ(rescale_refusal(plan_of("keyed_count"), false), "");
  EXPECT_EQ(rescale_refusal(plan_of("generator"), false), "");
}

TEST(RescaleRefusal, WithCheckpointsKafkaSinksMayRescaleButConnectorSinksAreRefused) {
  auto plan = plan_of("keyed_count");
  EXPECT_EQ(rescale_refusal(plan, true), "");
  plan.sinks[0].name = "alerts";
  plan.sinks[0].settings = graph::KafkaSinkSettings{};
  EXPECT_EQ(rescale_refusal(plan, true), "");  // a leaver's uncommitted output moves to the initializer's transaction
  EXPECT_EQ(rescale_refusal(plan, false), "");
  plan.sinks[0].settings = graph::ConnectorSinkSettings{};
  EXPECT_EQ(rescale_refusal(plan, true),
            "rescaling with checkpoints is not supported with connector sink 'alerts' (a leaving worker's output "
            "since its last checkpoint would not be committed)");
  EXPECT_EQ(rescale_refusal(plan, false), "");  // without checkpoints a connector sink delivers at least once
}

TEST(RescaleRefusal, KafkaSourcesAndWindowsMayRescale) {
  auto plan = plan_of("keyed_count");
  plan.sources[0].name = "orders";
  plan.sources[0].settings = graph::KafkaSourceSettings{};
  EXPECT_EQ(rescale_refusal(plan, false), "");  // partitions move with their positions
  EXPECT_EQ(rescale_refusal(plan, true), "");   // and the checkpoint after the round holds them
  plan = plan_of("keyed_count");
  plan.stages.back().kind = graph::StagePlan::Kind::window;
  EXPECT_EQ(rescale_refusal(plan, false), "");  // windows move with their keys
  EXPECT_EQ(rescale_refusal(plan, true), "");
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
  EXPECT_EQ(rescale_refusal(plan, false),
            "rescaling is not supported with HTTP source 'orders' answering through keyed step '" + routed +
                "' (a request is answered by the worker that read it, and a rescale sends its key elsewhere)");
  EXPECT_EQ(rescale_refusal(plan, true), rescale_refusal(plan, false));
}

TEST(RescaleRefusal, HttpSourcesAnsweredWhereTheyAreReadOrNotAtAllMayRescale) {
  // Stateless steps run on the worker that read the request: its answer is made there, whoever owns which key.
  EXPECT_EQ(rescale_refusal(with_http_source(plan_of("split_filter"), true), false), "");
  EXPECT_EQ(rescale_refusal(with_http_source(plan_of("split_filter"), true), true), "");
  // Keyed, but nothing answers through the pipeline (ignore_response: answered on receipt).
  EXPECT_EQ(rescale_refusal(with_http_source(plan_of("keyed_count"), false), false), "");
}

}  // namespace
}  // namespace roo::runtime
