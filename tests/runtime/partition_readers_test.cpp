// Which worker reads each Kafka partition (PartitionReaders): the live workers in membership order, partition p by
// the one at p mod their count.
#include "partition_readers.hpp"

#include <gtest/gtest.h>

#include <set>

namespace roo::runtime {
namespace {

cluster::Membership membership_of(std::size_t workers, std::size_t self, std::set<std::size_t> departed = {}) {
  cluster::Membership membership;
  membership.workers.resize(workers);
  membership.self = self;
  membership.departed.assign(workers, false);
  for (std::size_t w : departed) {
    membership.departed[w] = true;
  }
  return membership;
}

std::set<std::int32_t> partitions_read(const PartitionReaders& readers, std::int32_t partitions) {
  std::set<std::int32_t> read;
  for (std::int32_t p = 0; p < partitions; ++p) {
    if (readers.reads(p)) {
      read.insert(p);
    }
  }
  return read;
}

TEST(PartitionReaders, AloneOneWorkerReadsEveryPartition) {
  auto readers = PartitionReaders::of(cluster::Membership{});
  ASSERT_TRUE(readers);
  EXPECT_EQ(partitions_read(*readers, 4), (std::set<std::int32_t>{0, 1, 2, 3}));
}

TEST(PartitionReaders, EveryPartitionHasExactlyOneLiveReader) {
  for (std::size_t self = 0; self < 3; ++self) {
    auto readers = PartitionReaders::of(membership_of(3, self));
    ASSERT_TRUE(readers);
    EXPECT_EQ(readers->rank, self);
    EXPECT_EQ(readers->count, 3U);
  }
  EXPECT_EQ(partitions_read(*PartitionReaders::of(membership_of(3, 1)), 6), (std::set<std::int32_t>{1, 4}));
}

TEST(PartitionReaders, DepartedWorkersReadNothingAndTheOthersCloseRanks) {
  auto departed = membership_of(4, 1, {1, 2});
  EXPECT_FALSE(PartitionReaders::of(departed));  // a leaver reads nothing
  auto first = PartitionReaders::of(membership_of(4, 0, {1, 2}));
  auto last = PartitionReaders::of(membership_of(4, 3, {1, 2}));
  ASSERT_TRUE(first && last);
  EXPECT_EQ(first->count, 2U);
  EXPECT_EQ(last->rank, 1U);
  EXPECT_EQ(partitions_read(*first, 6), (std::set<std::int32_t>{0, 2, 4}));
  EXPECT_EQ(partitions_read(*last, 6), (std::set<std::int32_t>{1, 3, 5}));
}

}  // namespace
}  // namespace roo::runtime
