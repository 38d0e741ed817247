#include "shrink_request.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

namespace roo::cli {
namespace {

std::string usage_refusal(const std::optional<std::string>& workers, const std::optional<std::uint64_t>& count,
                          bool query) {
  try {
    (void)shrink_ask(workers, count, query);
  } catch (const core::UsageError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(ShrinkRequest, TheRequestIsWallaroosJsonInTheSpecsFieldOrder) {
  EXPECT_EQ(shrink_request_json(shrink_ask(std::string("worker2,worker3"), std::nullopt, false)),
            R"({"query":false,"node_names":["worker2","worker3"],"node_count":0})");
  EXPECT_EQ(shrink_request_json(shrink_ask(std::nullopt, 2, false)),
            R"({"query":false,"node_names":[],"node_count":2})");
  EXPECT_EQ(shrink_request_json(shrink_ask(std::nullopt, std::nullopt, true)),
            R"({"query":true,"node_names":[],"node_count":0})");
  EXPECT_EQ(shrink_request_json(shrink_ask(std::string("a\"b"), std::nullopt, false)),
            R"({"query":false,"node_names":["a\"b"],"node_count":0})");
}

TEST(ShrinkRequest, ExactlyOneOfWorkersCountAndQuery) {
  const std::string one = "shrink the cluster: give exactly one of --workers, --count and --query";
  EXPECT_EQ(usage_refusal(std::nullopt, std::nullopt, false), one);
  EXPECT_EQ(usage_refusal(std::string("w1"), 1, false), one);
  EXPECT_EQ(usage_refusal(std::string("w1"), std::nullopt, true), one);
  EXPECT_EQ(usage_refusal(std::nullopt, 1, true), one);
  EXPECT_EQ(usage_refusal(std::nullopt, 0, false),
            "shrink --count 0: expected a number of workers to leave, at least 1");
  EXPECT_EQ(usage_refusal(std::string("w1,,w2"), std::nullopt, false),
            "shrink --workers 'w1,,w2': expected worker names separated by commas");
  EXPECT_EQ(usage_refusal(std::string(","), std::nullopt, false),
            "shrink --workers ',': expected worker names separated by commas");
}

TEST(ShrinkRequest, TheAnswerSaysWhoLeavesAndWhenFewerThanAskedCan) {
  ShrinkAnswer two{{"worker2", "worker3"}, 2};
  EXPECT_EQ(describe_shrink(shrink_ask(std::string("worker2,worker3"), std::nullopt, false), two),
            "shrinking: worker2, worker3 will leave (2 workers)");
  EXPECT_EQ(describe_shrink(shrink_ask(std::nullopt, 5, false), two),
            "shrinking: worker2, worker3 will leave (2 workers; 5 were asked for, only 2 can leave)");
  EXPECT_EQ(describe_shrink(shrink_ask(std::nullopt, 1, false), ShrinkAnswer{{"worker2"}, 1}),
            "shrinking: worker2 will leave (1 worker)");
  EXPECT_EQ(describe_shrink(shrink_ask(std::nullopt, std::nullopt, true), two),
            "could leave: worker2, worker3 (2 workers)");
  EXPECT_EQ(describe_shrink(shrink_ask(std::nullopt, std::nullopt, true), ShrinkAnswer{}), "no worker could leave");
  EXPECT_EQ(describe_shrink(shrink_ask(std::nullopt, 1, false), ShrinkAnswer{}), "no worker can leave");
}

TEST(ShrinkRequest, ParsesTheQueryResponseAndRefusesAnythingElseInOneLine) {
  ShrinkAnswer answer = parse_shrink_answer(R"({"node_names":["w1","w2"],"node_count":2})", "read");
  EXPECT_EQ(answer.workers, (std::vector<std::string>{"w1", "w2"}));
  EXPECT_EQ(answer.count, 2u);
  auto refusal = [](const std::string& json) {
    try {
      (void)parse_shrink_answer(json, "read the answer to shrink-request from h:1");
    } catch (const core::Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refusal("nope"),
            "read the answer to shrink-request from h:1: the answer is not a ShrinkQueryResponse "
            "(not a JSON object)");
  EXPECT_EQ(refusal(R"({"node_names":["w1"]})"),
            "read the answer to shrink-request from h:1: the answer is not a ShrinkQueryResponse (expected node_names "
            "and node_count)");
  EXPECT_EQ(refusal(R"({"node_names":[1],"node_count":1})"),
            "read the answer to shrink-request from h:1: the answer is not a ShrinkQueryResponse (a node name that is "
            "not a string)");
}

}  // namespace
}  // namespace roo::cli
