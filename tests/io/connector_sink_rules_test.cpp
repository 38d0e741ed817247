#include "connector_sink_rules.hpp"

#include <gtest/gtest.h>

namespace roo::io {
namespace {

using connector::Phase2;

TEST(ConnectorSinkRules, TransactionIdsNameTheStreamAndTheCheckpoint) {
  EXPECT_EQ(transaction_id("App-w-initializer-id-0", 12), "App-w-initializer-id-0:c_id=12");
  EXPECT_EQ(checkpoint_of("App-w-initializer-id-0:c_id=12", "App-w-initializer-id-0"), 12U);
  EXPECT_EQ(checkpoint_of("My App-w-w1-id-1:c_id=0", "My App-w-w1-id-1"), 0U);
}

TEST(ConnectorSinkRules, AnotherStreamsOrAMalformedIdHasNoCheckpoint) {
  EXPECT_EQ(checkpoint_of("App-w-w2-id-0:c_id=3", "App-w-w1-id-0"), std::nullopt);
  EXPECT_EQ(checkpoint_of("App-w-w1-id-0:c_id=3", "App-w-w1-id-"), std::nullopt);  // a prefix of another stream
  EXPECT_EQ(checkpoint_of("App-w-w1-id-0:c_id=", "App-w-w1-id-0"), std::nullopt);
  EXPECT_EQ(checkpoint_of("App-w-w1-id-0:c_id=3x", "App-w-w1-id-0"), std::nullopt);
  EXPECT_EQ(checkpoint_of("App-w-w1-id-0:c_id=-3", "App-w-w1-id-0"), std::nullopt);
  EXPECT_EQ(checkpoint_of("App-w-w1-id-0:x_id=3", "App-w-w1-id-0"), std::nullopt);
  EXPECT_EQ(checkpoint_of("App-w-w1-id-0:c_id=99999999999999999999", "App-w-w1-id-0"), std::nullopt);
}

TEST(ConnectorSinkRules, CompleteCheckpointsCommitInOrderTheRestAbortsNewestFirst) {
  std::vector<std::string> listed = {"s:c_id=5", "s:c_id=3", "other:c_id=1", "s:c_id=4", "s:c_id=6"};
  EXPECT_EQ(resolve_uncommitted(listed, "s", 4, {}),
            (std::vector<Phase2>{{"s:c_id=3", true}, {"s:c_id=4", true}, {"s:c_id=6", false}, {"s:c_id=5", false}}));
}

TEST(ConnectorSinkRules, RoundsThisProcessPreparedAreLeftForTheirCommit) {
  std::vector<std::string> listed = {"s:c_id=7", "s:c_id=8", "s:c_id=9"};
  EXPECT_EQ(resolve_uncommitted(listed, "s", 7, {8}), (std::vector<Phase2>{{"s:c_id=7", true}, {"s:c_id=9", false}}));
}

TEST(ConnectorSinkRules, NoCheckpointRestoredAbortsEveryRoundOfTheStream) {
  EXPECT_EQ(resolve_uncommitted({"s:c_id=1", "t:c_id=1"}, "s", 0, {}), (std::vector<Phase2>{{"s:c_id=1", false}}));
  EXPECT_TRUE(resolve_uncommitted({}, "s", 0, {}).empty());
}

}  // namespace
}  // namespace roo::io
