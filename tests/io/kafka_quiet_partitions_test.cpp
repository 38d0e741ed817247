#include "kafka_quiet_partitions.hpp"

#include <gtest/gtest.h>

namespace roo::io {
namespace {

using namespace std::chrono_literals;
using Clock = KafkaQuietPartitions::Clock;
using Partitions = std::vector<PartitionId>;

const PartitionId p0{.topic = 0, .partition = 0};
const PartitionId p1{.topic = 0, .partition = 1};
const PartitionId t1p0{.topic = 1, .partition = 0};

TEST(KafkaQuietPartitions, APartitionIsQuietOnceItSatAtItsEndForQuietAfterAndIsToldOnce) {
  Clock::time_point start{};
  KafkaQuietPartitions quiet(2s);
  quiet.reached_end(p0, start);
  quiet.reached_end(p1, start + 1s);
  EXPECT_EQ(quiet.newly_quiet(start + 1999ms), Partitions{});
  EXPECT_EQ(quiet.newly_quiet(start + 2s), Partitions{p0});
  quiet.reached_end(p0, start + 2500ms);  // librdkafka tells the same end again: nothing new
  EXPECT_EQ(quiet.newly_quiet(start + 3s), Partitions{p1});
  EXPECT_EQ(quiet.newly_quiet(start + 60s), Partitions{});
}

TEST(KafkaQuietPartitions, AMessageEndsTheQuietAndTheNextEndStartsItAgain) {
  Clock::time_point start{};
  KafkaQuietPartitions quiet(2s);
  quiet.reached_end(p0, start);
  quiet.reached_end(p1, start);
  quiet.message(p0);
  quiet.message(p0);  // the same partition again: the cheap path
  EXPECT_EQ(quiet.newly_quiet(start + 5s), Partitions{p1});
  quiet.message(p1);  // after it was told quiet: not quiet any more, told again after its next end
  quiet.reached_end(p0, start + 6s);
  quiet.reached_end(p1, start + 7s);
  EXPECT_EQ(quiet.newly_quiet(start + 8s), Partitions{p0});
  EXPECT_EQ(quiet.newly_quiet(start + 9s), Partitions{p1});
}

// message() skips the lookup when the message's partition is the previous message's: an end of that partition in
// between must still be ended by its next message.
TEST(KafkaQuietPartitions, AnEndBetweenTwoMessagesOfOnePartitionIsEndedByTheSecond) {
  Clock::time_point start{};
  KafkaQuietPartitions quiet(1s);
  quiet.reached_end(t1p0, start);
  quiet.message(p0);
  quiet.reached_end(p0, start);
  quiet.message(p0);
  EXPECT_EQ(quiet.newly_quiet(start + 5s), Partitions{t1p0});
}

TEST(KafkaQuietPartitions, TimeHeldBackByAFullMailboxDoesNotCount) {
  Clock::time_point start{};
  KafkaQuietPartitions quiet(2s);
  quiet.reached_end(p0, start);
  quiet.reached_end(p1, start);
  EXPECT_EQ(quiet.newly_quiet(start + 2s), (Partitions{p0, p1}));
  quiet.message(p1);
  quiet.reached_end(p1, start + 3s);
  quiet.held_back(start + 10s);  // the source fetched nothing from 3 s to 10 s: p1's quiet starts again
  EXPECT_EQ(quiet.newly_quiet(start + 11s), Partitions{});
  EXPECT_EQ(quiet.newly_quiet(start + 12s), Partitions{p1});
}

TEST(KafkaQuietPartitions, APauseForgetsTheQuietNotToldYet) {
  Clock::time_point start{};
  KafkaQuietPartitions quiet(2s);
  quiet.reached_end(p0, start);
  EXPECT_EQ(quiet.newly_quiet(start + 2s), Partitions{p0});
  quiet.reached_end(p1, start + 2s);
  quiet.paused();  // librdkafka tells p1's end again once it fetched up to it after the resume
  EXPECT_EQ(quiet.newly_quiet(start + 10s), Partitions{});
  quiet.reached_end(p0, start + 10s);  // p0 was told quiet: it stays so
  quiet.reached_end(p1, start + 10s);
  EXPECT_EQ(quiet.newly_quiet(start + 12s), Partitions{p1});
}

TEST(KafkaQuietPartitions, WithNoQuietAfterAPartitionIsQuietAtItsEnd) {
  Clock::time_point start{};
  KafkaQuietPartitions quiet(0s);
  quiet.reached_end(p0, start);
  EXPECT_EQ(quiet.newly_quiet(start), Partitions{p0});
}

}  // namespace
}  // namespace roo::io
