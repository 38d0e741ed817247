// The cluster's layout as a checkpoint records it (cluster-<id>.complete) and reads it back for a recovery.
#include "cluster_layout.hpp"

#include <gtest/gtest.h>

namespace roo::runtime {
namespace {

cluster::Membership three_workers_one_left() {
  cluster::Membership membership;
  for (const char* name : {"initializer", "w1", "w2"}) {
    membership.workers.push_back(cluster::WorkerInfo{name, core::Endpoint{"10.0.0.1", 6000}, {}, std::nullopt});
  }
  membership.departed = {false, true, false};
  membership.key_groups = 4;
  membership.owners = {0, 2, 2, 0};
  membership.version = 9;
  membership.self = 2;
  return membership;
}

TEST(ClusterLayout, RecordsNamesDepartedOwnersAndVersion) {
  EXPECT_EQ(layout_json(three_workers_one_left()),
            R"({"workers":["initializer","w1","w2"],"departed":[false,true,false],"key_groups":4,)"
            R"("owners":[0,2,2,0],"version":9})");
}

TEST(ClusterLayout, ReadsBackWhatItRecorded) {
  auto layout = layout_of(layout_json(three_workers_one_left()));
  ASSERT_TRUE(layout.has_value());
  ASSERT_EQ(layout->workers.size(), 3u);
  EXPECT_EQ(layout->workers[2].name, "w2");
  EXPECT_EQ(layout->workers[2].control.port, 0);  // addresses are not recorded: each worker says its own
  EXPECT_EQ(layout->departed, (std::vector<bool>{false, true, false}));
  EXPECT_EQ(layout->owners, (std::vector<std::uint16_t>{0, 2, 2, 0}));
  EXPECT_EQ(layout->key_groups, 4u);
  EXPECT_EQ(layout->version, 9u);
  cluster::Membership dealt = three_workers_one_left();
  dealt.owners.clear();  // round-robin, before any rescale
  dealt.departed = {false, false, false};
  EXPECT_TRUE(layout_of(layout_json(dealt))->owners.empty());
}

TEST(ClusterLayout, WhatIsNotALayoutIsNone) {
  EXPECT_FALSE(layout_of("initializer\nw1\n").has_value());  // an earlier Roo's mark: the names, one per line
  EXPECT_FALSE(layout_of("").has_value());
  EXPECT_FALSE(layout_of(R"({"workers":["initializer"]})").has_value());
  // Owners that name a departed worker or no worker, a departed initializer, a count that does not fit.
  EXPECT_FALSE(layout_of(R"({"workers":["i","w1"],"departed":[false,true],"key_groups":2,"owners":[0,1],"version":1})")
                   .has_value());
  EXPECT_FALSE(layout_of(R"({"workers":["i","w1"],"departed":[false,false],"key_groups":2,"owners":[0,5],"version":1})")
                   .has_value());
  EXPECT_FALSE(layout_of(R"({"workers":["i","w1"],"departed":[true,false],"key_groups":2,"owners":[],"version":1})")
                   .has_value());
  EXPECT_FALSE(
      layout_of(R"({"workers":["i","w1"],"departed":[false],"key_groups":2,"owners":[],"version":1})").has_value());
  EXPECT_FALSE(
      layout_of(R"({"workers":["i"],"departed":[false],"key_groups":2,"owners":[0],"version":1})").has_value());
}

}  // namespace
}  // namespace roo::runtime
