// KeyRouter's owners table: dealt round-robin when the membership leaves it implicit, taken as is when explicit (a
// joiner's, a rescale's), replaced by reroute(), and refused when it names no worker.
#include "key_router.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace roo::runtime {
namespace {

std::vector<std::size_t> owners_of(const KeyRouter& router) {
  std::vector<std::size_t> owners;
  for (std::uint32_t group = 0; group < router.key_groups(); ++group) {
    owners.push_back(router.owner(group));
  }
  return owners;
}

std::string error_of(const Routing& routing) {
  try {
    KeyRouter router(routing);
  } catch (const core::Error& error) {
    return error.what();
  }
  return "no error";
}

TEST(KeyRouter, DealsKeyGroupsRoundRobinWithoutAnOwnersTable) {
  KeyRouter router(Routing{1, 3, 7});
  EXPECT_EQ(owners_of(router), (std::vector<std::size_t>{0, 1, 2, 0, 1, 2, 0}));
  EXPECT_EQ(router.key_groups(), 7u);
  EXPECT_EQ(router.workers(), 3u);
  EXPECT_EQ(router.self(), 1u);
  EXPECT_TRUE(router.is_distributed());
}

TEST(KeyRouter, FollowsAnExplicitOwnersTable) {
  KeyRouter router(Routing{2, 4, 5, {3, 3, 0, 2, 3}});
  EXPECT_EQ(owners_of(router), (std::vector<std::size_t>{3, 3, 0, 2, 3}));
  EXPECT_TRUE(router.is_distributed());
}

TEST(KeyRouter, IsNotDistributedWhileThisWorkerOwnsEveryKeyGroup) {
  EXPECT_FALSE(KeyRouter(Routing{0, 1, 8}).is_distributed());
  // A worker joined (two workers), nothing moved to it yet: every event still stays on worker 0.
  EXPECT_FALSE(KeyRouter(Routing{0, 2, 4, {0, 0, 0, 0}}).is_distributed());
  EXPECT_TRUE(KeyRouter(Routing{1, 2, 4, {0, 0, 0, 0}}).is_distributed());
}

TEST(KeyRouter, ReroutesToANewOwnersTable) {
  KeyRouter router(Routing{0, 1, 4});
  EXPECT_FALSE(router.is_distributed());
  router.reroute(Routing{0, 2, 4, {0, 1, 0, 1}});
  EXPECT_EQ(owners_of(router), (std::vector<std::size_t>{0, 1, 0, 1}));
  EXPECT_EQ(router.workers(), 2u);
  EXPECT_TRUE(router.is_distributed());
  // Worker 1 left (shrinking): everything is worker 0's again.
  router.reroute(Routing{0, 2, 4, {0, 0, 0, 0}});
  EXPECT_FALSE(router.is_distributed());
}

TEST(KeyRouter, TakesTheMembershipsOwnersTable) {
  cluster::Membership membership;
  membership.workers.resize(3);
  membership.self = 2;
  membership.key_groups = 4;
  membership.owners = {1, 0, 0, 1};  // a joiner's: explicit, not round-robin
  KeyRouter router(Routing::of(membership));
  EXPECT_EQ(owners_of(router), (std::vector<std::size_t>{1, 0, 0, 1}));
  EXPECT_EQ(router.self(), 2u);
  EXPECT_EQ(router.workers(), 3u);
  membership.owners.clear();
  EXPECT_EQ(owners_of(KeyRouter(Routing::of(membership))), (std::vector<std::size_t>{0, 1, 2, 0}));
}

TEST(KeyRouter, RefusesATableThatDoesNotFitTheCluster) {
  EXPECT_EQ(error_of(Routing{0, 2, 4, {0, 1, 0}}), "route events: the owners table has 3 entries for 4 key groups");
  EXPECT_EQ(error_of(Routing{0, 2, 3, {0, 2, 1}}),
            "route events: key group 1 belongs to worker 2, and there are 2 workers");
  EXPECT_EQ(error_of(Routing{2, 2, 3}), "route events: worker 2 of 2 with 3 key groups is no place in a cluster");
  EXPECT_EQ(error_of(Routing{0, 1, 0}), "route events: worker 0 of 1 with 0 key groups is no place in a cluster");
}

}  // namespace
}  // namespace roo::runtime
