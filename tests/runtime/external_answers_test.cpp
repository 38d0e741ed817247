#include "external_answers.hpp"

#include <gtest/gtest.h>

namespace roo::runtime {
namespace {

graph::StagePlan stage(graph::StagePlan::Kind kind, std::string name) {
  graph::StagePlan plan;
  plan.kind = kind;
  plan.name = std::move(name);
  return plan;
}

LocalFacts two_workers_running(const graph::Plan& plan) {
  LocalFacts facts;
  facts.membership.workers = {cluster::WorkerInfo{"initializer", {}, {}, {}}, cluster::WorkerInfo{"w1", {}, {}, {}}};
  facts.membership.key_groups = 4;
  facts.state_keys = {{"count", {"a"}}};
  facts.stateless_steps = stateless_steps(plan);
  return facts;
}

graph::Plan split_key_count_split() {
  using Kind = graph::StagePlan::Kind;
  graph::Plan plan;
  plan.stages.push_back(stage(Kind::computation, "split"));
  plan.stages.push_back(stage(Kind::key_by, "word"));
  plan.stages.push_back(stage(Kind::state, "count"));
  plan.stages.push_back(stage(Kind::computation, "split"));
  return plan;
}

TEST(ExternalAnswers, StatelessStepsAreTheComputationStagesNamedUniquely) {
  auto steps = stateless_steps(split_key_count_split());
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].name, "split");
  EXPECT_EQ(steps[0].stage, 0u);
  EXPECT_EQ(steps[1].name, "split (2)");
  EXPECT_EQ(steps[1].stage, 3u);
}

TEST(ExternalAnswers, StatelessPartitionsListEveryWorkersStep) {
  auto plan = split_key_count_split();
  auto facts = two_workers_running(plan);
  EXPECT_EQ(local_answer(19, facts),
            R"j({"split":{"initializer":["0"],"w1":["1"]},"split (2)":{"initializer":["3000"],"w1":["3001"]}})j");
  EXPECT_EQ(local_answer(23, facts), R"j({"split":{"initializer":1,"w1":1},"split (2)":{"initializer":1,"w1":1}})j");
  EXPECT_EQ(local_answer(12, facts),
            R"j({"state_partitions":{"count":{"initializer":2,"w1":2}},)j"
            R"j("stateless_partitions":{"split":{"initializer":1,"w1":1},"split (2)":{"initializer":1,"w1":1}}})j");
  EXPECT_EQ(local_answer(7, facts),
            R"j({"state_partitions":{"count":{"initializer":[0,2],"w1":[1,3]}},)j"
            R"j("stateless_partitions":{"split":{"initializer":["0"],"w1":["1"]},)j"
            R"j("split (2)":{"initializer":["3000"],"w1":["3001"]}}})j");
}

// After a shrink: worker w1 left (it owns nothing and runs nothing), the owners table says who has each key group.
TEST(ExternalAnswers, PartitionsFollowTheOwnersTableAndLeaveOutWorkersThatLeft) {
  auto plan = split_key_count_split();
  auto facts = two_workers_running(plan);
  facts.membership.workers.push_back(cluster::WorkerInfo{"w2", {}, {}, {}});
  facts.membership.owners = {0, 2, 2, 0};
  facts.membership.departed = {false, true, false};
  EXPECT_EQ(local_answer(7, facts),
            R"j({"state_partitions":{"count":{"initializer":[0,3],"w2":[1,2]}},)j"
            R"j("stateless_partitions":{"split":{"initializer":["0"],"w2":["2"]},)j"
            R"j("split (2)":{"initializer":["3000"],"w2":["3002"]}}})j");
  EXPECT_EQ(local_answer(23, facts), R"j({"split":{"initializer":1,"w2":1},"split (2)":{"initializer":1,"w2":1}})j");
}

TEST(ExternalAnswers, NoStatelessStepsIsAnEmptyObject) {
  graph::Plan plan;
  auto facts = two_workers_running(plan);
  EXPECT_EQ(local_answer(19, facts), "{}");
  EXPECT_EQ(local_answer(23, facts), "{}");
}

TEST(ExternalAnswers, StateEntitiesListEveryKeyWhenSmall) {
  LocalFacts facts;
  facts.state_keys = {{"counts", {"a", "b"}}, {"totals", {}}};
  EXPECT_EQ(local_answer(17, facts), R"({"counts":["a","b"],"totals":[]})");
}

TEST(ExternalAnswers, StateEntitiesAreBoundedAndSaySo) {
  LocalFacts facts;
  std::vector<std::string> keys;
  for (int i = 0; i < 200000; ++i) {
    keys.push_back("key-" + std::to_string(i));  // about 2 MiB of quoted keys
  }
  facts.state_keys = {{"counts", keys}};
  std::string answer = local_answer(17, facts);
  EXPECT_LT(answer.size(), max_state_entity_answer_bytes + 1024);
  auto cut = answer.find(R"(,"roo_cut":"listed )");
  ASSERT_NE(cut, std::string::npos);
  std::size_t listed = std::stoul(answer.substr(cut + 19));
  EXPECT_GT(listed, 50000u);
  EXPECT_LT(listed, 200000u);
  EXPECT_TRUE(answer.ends_with(" of 200000 keys: answers are bounded to 1 MiB\"}")) << answer.substr(cut);
}

}  // namespace
}  // namespace roo::runtime
