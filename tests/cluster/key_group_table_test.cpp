#include "roo/cluster/key_group_table.hpp"

#include <gtest/gtest.h>

#include <map>

namespace roo::cluster {
namespace {

std::map<std::size_t, std::size_t> shares(const std::vector<std::uint16_t>& owners) {
  std::map<std::size_t, std::size_t> count;
  for (auto owner : owners) {
    ++count[owner];
  }
  return count;
}

TEST(KeyGroupTable, DealtIsRoundRobin) {
  auto owners = KeyGroupTable::dealt(8, 3);
  EXPECT_EQ(owners, (std::vector<std::uint16_t>{0, 1, 2, 0, 1, 2, 0, 1}));
}

TEST(KeyGroupTable, GrowingMovesOnlyTheNewWorkersShare) {
  auto one = KeyGroupTable::dealt(256, 1);
  auto two = KeyGroupTable::rebalanced(one, 2, {});
  EXPECT_EQ(shares(two), (std::map<std::size_t, std::size_t>{{0, 128}, {1, 128}}));
  EXPECT_EQ(KeyGroupTable::moved(one, two), 128u);
  auto three = KeyGroupTable::rebalanced(two, 3, {});
  EXPECT_EQ(shares(three), (std::map<std::size_t, std::size_t>{{0, 86}, {1, 85}, {2, 85}}));
  EXPECT_EQ(KeyGroupTable::moved(two, three), 85u);  // the new worker's share, nothing else
  for (std::size_t group = 0; group < 256; ++group) {
    if (three[group] != 2) {
      EXPECT_EQ(three[group], two[group]) << "group " << group << " moved between two old workers";
    }
  }
}

TEST(KeyGroupTable, ShrinkingMovesOnlyTheLeaversGroups) {
  auto three = KeyGroupTable::dealt(256, 3);
  auto two = KeyGroupTable::rebalanced(three, 3, {false, true, false});
  auto count = shares(two);
  EXPECT_EQ(count.count(1), 0u);
  EXPECT_EQ(count[0] + count[2], 256u);
  EXPECT_EQ(count[0], 128u);
  EXPECT_EQ(count[2], 128u);
  EXPECT_EQ(KeyGroupTable::moved(three, two), 85u);  // worker 1's groups only
  auto one = KeyGroupTable::rebalanced(two, 3, {false, true, true});
  EXPECT_EQ(shares(one), (std::map<std::size_t, std::size_t>{{0, 256}}));
}

TEST(KeyGroupTable, GrowAndShrinkAtOnceStaysEven) {
  auto four = KeyGroupTable::dealt(10, 4);
  auto next = KeyGroupTable::rebalanced(four, 6, {false, false, true, false});
  auto count = shares(next);
  EXPECT_EQ(count.count(2), 0u);
  for (auto [worker, groups] : count) {
    EXPECT_TRUE(groups == 2) << "worker " << worker << " owns " << groups;
  }
}

TEST(KeyGroupTable, MoreWorkersThanGroupsLeavesSomeWithout) {
  auto owners = KeyGroupTable::rebalanced(KeyGroupTable::dealt(2, 1), 3, {});
  auto count = shares(owners);
  EXPECT_EQ(count.size(), 2u);
  for (auto [worker, groups] : count) {
    EXPECT_EQ(groups, 1u);
  }
}

TEST(KeyGroupTable, AJoinerLostMidMoveGivesEveryGroupBackToItsOwnerBefore) {
  auto two = KeyGroupTable::dealt(256, 2);
  auto three = KeyGroupTable::rebalanced(two, 3, {});
  auto back = KeyGroupTable::without(two, three, 3, {false, false, true});
  EXPECT_EQ(back, two);
}

TEST(KeyGroupTable, AWorkerLostMidMoveHasItsGroupsDealtToTheFewestAndNothingElseMoves) {
  auto three = KeyGroupTable::dealt(9, 3);                                           // 3 groups each
  auto next = KeyGroupTable::rebalanced(three, 4, {});                               // worker 3 joins
  auto after = KeyGroupTable::without(three, next, 4, {false, true, false, false});  // worker 1 is lost
  EXPECT_EQ(shares(after).count(1), 0u);
  for (std::size_t group = 0; group < 9; ++group) {
    if (next[group] != 1) {
      EXPECT_EQ(after[group], next[group]) << "group " << group << " moved though its owner stays";
    }
  }
  auto count = shares(after);
  EXPECT_EQ(count[0] + count[2] + count[3], 9u);
  for (auto [worker, groups] : count) {
    EXPECT_GE(groups, 2u) << "worker " << worker;
    EXPECT_LE(groups, 4u) << "worker " << worker;
  }
}

}  // namespace
}  // namespace roo::cluster
