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

TEST(RescaleRefusal, CheckpointsAreRefused) {
  EXPECT_EQ(rescale_refusal(plan_of("keyed_count"), true), "rescaling with checkpoints on is not supported yet");
}

TEST(RescaleRefusal, KafkaAndHttpSourcesAndWindowsAreRefused) {
  auto plan = plan_of("keyed_count");
  plan.sources[0].name = "orders";
  plan.sources[0].settings = graph::KafkaSourceSettings{};
  EXPECT_EQ(rescale_refusal(plan, false),
            "rescaling is not supported with Kafka source 'orders' (its partitions are assigned by worker index and "
            "count)");
  plan.sources[0].settings = graph::HttpSourceSettings{};
  EXPECT_EQ(rescale_refusal(plan, false),
            "rescaling is not supported with HTTP source 'orders' (a request is answered by the worker that read it)");
  plan = plan_of("keyed_count");
  plan.stages.back().kind = graph::StagePlan::Kind::window;
  EXPECT_EQ(rescale_refusal(plan, false),
            "rescaling a pipeline with windows is not supported yet (watermarks are kept per worker)");
}

}  // namespace
}  // namespace roo::runtime
