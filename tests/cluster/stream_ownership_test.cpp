// The cluster-wide table of connector streams (stream_ownership.cpp) between real workers over loopback: claims
// wait for every worker's restored marks, the highest marks win, a stream has one owner cluster-wide, a release or
// a lost worker frees it.
#include "cluster_test_support.hpp"

#include <gtest/gtest.h>

#include <future>

namespace roo::cluster {
namespace {

using namespace std::chrono_literals;
constexpr std::uint64_t none = core::StreamMark::none;

core::StreamMark mark(std::uint64_t stream, std::uint64_t committed, std::uint64_t last_seen) {
  return core::StreamMark{.stream = stream, .committed = committed, .last_seen = last_seen};
}

/// A claim whose answer the test waits for.
std::future<core::StreamClaim> claim(core::StreamRegistry& registry, std::uint32_t source, core::StreamMark asked) {
  auto promise = std::make_shared<std::promise<core::StreamClaim>>();
  auto answer = promise->get_future();
  registry.claim(source, asked, [promise](core::StreamClaim claim) { promise->set_value(std::move(claim)); });
  return answer;
}

core::StreamClaim answered(std::future<core::StreamClaim>& answer) {
  if (answer.wait_for(5s) != std::future_status::ready) {
    ADD_FAILURE() << "the claim was not answered within 5 s";
    return core::StreamClaim{.granted = false, .mark = {}, .holder = "(no answer)"};
  }
  return answer.get();
}

TEST(ClusterStreamOwnership, ClaimsWaitForEveryWorkersMarksAndAnswerTheHighest) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  auto registry1 = workers[1]->cluster->stream_registry();
  registry1->restored(0, {mark(7, 10, 10)});
  auto waiting = claim(*registry1, 0, mark(7, 10, 12));
  EXPECT_EQ(waiting.wait_for(300ms), std::future_status::timeout);  // worker 2 and the initializer have not said
  workers[0]->cluster->stream_registry()->restored(0, {mark(7, 30, 30)});
  workers[2]->cluster->stream_registry()->restored(0, {});
  auto granted = answered(waiting);
  EXPECT_TRUE(granted.granted);
  EXPECT_EQ(granted.mark.committed, 30u);  // the initializer restored a later checkpointed id
  EXPECT_EQ(granted.mark.last_seen, 30u);
}

TEST(ClusterStreamOwnership, AStreamHasOneOwnerAndAReleaseHandsItsIdsOn) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  std::vector<std::shared_ptr<core::StreamRegistry>> registries;
  for (auto& worker : workers) {
    registries.push_back(worker->cluster->stream_registry());
    registries.back()->restored(2, {});
  }
  auto first = claim(*registries[1], 2, mark(5, none, none));
  EXPECT_TRUE(answered(first).granted);
  auto again = claim(*registries[1], 2, mark(5, none, none));
  EXPECT_TRUE(answered(again).granted);  // its owner may ask again
  auto other = claim(*registries[2], 2, mark(5, none, none));
  auto refused = answered(other);
  EXPECT_FALSE(refused.granted);
  EXPECT_EQ(refused.holder, "w1");
  auto from_initializer = claim(*registries[0], 2, mark(5, none, none));
  EXPECT_EQ(answered(from_initializer).holder, "w1");
  auto other_source = claim(*registries[2], 3, mark(5, none, none));  // source 3 waits for its marks
  EXPECT_EQ(other_source.wait_for(200ms), std::future_status::timeout);
  // w1 took up to 40, committed 20, and lets go: the next owner skips up to 40.
  registries[1]->release(2, mark(5, 20, 40));
  // The release and the claim travel on different workers' connections: the claim may overtake it, and is refused.
  core::StreamClaim moved;
  ASSERT_TRUE(test::wait_until([&] {
    auto next = claim(*registries[2], 2, mark(5, none, none));
    moved = answered(next);
    return moved.granted;
  }));
  EXPECT_EQ(moved.mark.committed, 20u);
  EXPECT_EQ(moved.mark.last_seen, 40u);
  // A release by a worker that does not own the stream changes nothing.
  registries[1]->release(2, mark(5, 20, 40));
  auto still = claim(*registries[0], 2, mark(5, none, none));
  EXPECT_EQ(answered(still).holder, "w2");
}

TEST(ClusterStreamOwnership, ALostWorkersStreamsAreFreeAndItNoLongerHoldsClaimsBack) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  auto registry0 = workers[0]->cluster->stream_registry();
  auto registry1 = workers[1]->cluster->stream_registry();
  registry0->restored(0, {});
  registry1->restored(0, {mark(9, 3, 8)});
  auto waiting = claim(*registry1, 0, mark(9, 3, 8));  // waits for w2's marks
  EXPECT_EQ(waiting.wait_for(200ms), std::future_status::timeout);
  workers[2].reset();  // w2 goes before it reported
  auto granted = answered(waiting);
  EXPECT_TRUE(granted.granted);
  EXPECT_EQ(granted.mark.last_seen, 8u);
  workers[1].reset();  // the owner goes: its stream is free for the initializer's connectors
  ASSERT_TRUE(test::wait_until([&] { return workers[0]->lost().size() == 2; }));
  auto taken = claim(*registry0, 0, mark(9, none, none));
  auto answer = answered(taken);
  EXPECT_TRUE(answer.granted);
  EXPECT_EQ(answer.mark.committed, 3u);
}

TEST(ClusterStreamOwnership, AClaimWithoutACluster) {
  std::shared_ptr<core::StreamRegistry> registry;
  {
    auto workers = test::formed_cluster(2);
    ASSERT_EQ(workers.size(), 2u);
    registry = workers[1]->cluster->stream_registry();
  }
  // The cluster is gone (a rollback replaced it): the claim is refused at once, the rest is ignored.
  registry->restored(0, {});
  registry->release(0, mark(1, 1, 1));
  auto refused = claim(*registry, 0, mark(1, none, none));
  auto answer = answered(refused);
  EXPECT_FALSE(answer.granted);
  EXPECT_EQ(answer.holder, "");
}

}  // namespace
}  // namespace roo::cluster
