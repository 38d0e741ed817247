#include "kafka_quiet_partitions.hpp"

#include <gtest/gtest.h>

#include <map>

namespace roo::io {
namespace {

using namespace std::chrono_literals;
using Clock = KafkaQuietPartitions::Clock;
using Partitions = std::vector<PartitionId>;

const PartitionId p0{.topic = 0, .partition = 0};
const PartitionId p1{.topic = 0, .partition = 1};
const PartitionId t1p0{.topic = 1, .partition = 0};

/// The partitions' ends as librdkafka last heard them (none known: -1).
struct KnownEnds {
  std::map<PartitionId, std::int64_t> ends;
  KafkaQuietPartitions::KnownEnd view() const {
    return [this](const PartitionId& partition) {
      auto found = ends.find(partition);
      return found == ends.end() ? std::int64_t{-1} : found->second;
    };
  }
};

TEST(KafkaQuietPartitions, APartitionIsQuietOnceItSatAtItsEndForQuietAfterAndIsToldOnce) {
  Clock::time_point start{};
  KnownEnds known{{{p0, 10}, {p1, 0}}};
  KafkaQuietPartitions quiet(2s);
  quiet.reached_end(p0, 10, start);
  quiet.reached_end(p1, 0, start + 1s);
  EXPECT_EQ(quiet.newly_quiet(start + 1999ms, known.view()), Partitions{});
  EXPECT_EQ(quiet.newly_quiet(start + 2s, known.view()), Partitions{p0});
  quiet.reached_end(p0, 10, start + 2500ms);  // librdkafka tells the same end again: nothing new
  EXPECT_EQ(quiet.newly_quiet(start + 3s, known.view()), Partitions{p1});
  EXPECT_EQ(quiet.newly_quiet(start + 60s, known.view()), Partitions{});
}

TEST(KafkaQuietPartitions, AMessageEndsTheQuietAndTheNextEndStartsItAgain) {
  Clock::time_point start{};
  KnownEnds known;
  KafkaQuietPartitions quiet(2s);
  quiet.reached_end(p0, 5, start);
  quiet.reached_end(p1, 5, start);
  quiet.message(p0);
  quiet.message(p0);  // the same partition again: the cheap path
  EXPECT_EQ(quiet.newly_quiet(start + 5s, known.view()), Partitions{p1});
  quiet.message(p1);  // after it was told quiet: not quiet any more, told again after its next end
  quiet.reached_end(p0, 6, start + 6s);
  quiet.reached_end(p1, 6, start + 7s);
  EXPECT_EQ(quiet.newly_quiet(start + 8s, known.view()), Partitions{p0});
  EXPECT_EQ(quiet.newly_quiet(start + 9s, known.view()), Partitions{p1});
}

// message() skips the lookup when the message's partition is the previous message's: an end of that partition in
// between must still be ended by its next message.
TEST(KafkaQuietPartitions, AnEndBetweenTwoMessagesOfOnePartitionIsEndedByTheSecond) {
  Clock::time_point start{};
  KnownEnds known;
  KafkaQuietPartitions quiet(1s);
  quiet.reached_end(t1p0, 0, start);
  quiet.message(p0);
  quiet.reached_end(p0, 1, start);
  quiet.message(p0);
  EXPECT_EQ(quiet.newly_quiet(start + 5s, known.view()), Partitions{t1p0});
}

// A message of p1 fetched but still queued in librdkafka behind p0's backlog (or an open transaction's records): its
// high watermark is past the end it signalled, so it is not quiet however long it has been, until the message comes.
TEST(KafkaQuietPartitions, APartitionWhoseKnownEndIsPastItsSignalledEndIsNotQuiet) {
  Clock::time_point start{};
  KnownEnds known{{{p1, 8}}};
  KafkaQuietPartitions quiet(2s);
  quiet.reached_end(p1, 7, start);
  EXPECT_EQ(quiet.newly_quiet(start + 60s, known.view()), Partitions{});
  quiet.message(p1);
  quiet.reached_end(p1, 8, start + 61s);
  EXPECT_EQ(quiet.newly_quiet(start + 62s, known.view()), Partitions{});
  EXPECT_EQ(quiet.newly_quiet(start + 63s, known.view()), Partitions{p1});
}

// Behind a full mailbox the source pauses its partitions again and again: a quiet partition beside the backlog still
// goes quiet, counted from its end, once librdkafka told the same end again after a resume.
TEST(KafkaQuietPartitions, APauseWaitsForTheSameEndAgainAndKeepsWhenTheQuietStarted) {
  Clock::time_point start{};
  KnownEnds known{{{p0, 3}, {p1, 9}}};
  KafkaQuietPartitions quiet(2s);
  quiet.reached_end(p0, 3, start);
  EXPECT_EQ(quiet.newly_quiet(start + 2s, known.view()), Partitions{p0});
  quiet.reached_end(p1, 9, start + 2s);
  quiet.paused();
  EXPECT_EQ(quiet.newly_quiet(start + 10s, known.view()), Partitions{});  // not fetched since the pause
  quiet.reached_end(p0, 3, start + 10s);                                  // p0 was told quiet: it stays so
  quiet.reached_end(p1, 9, start + 10s);                                  // the same end after the resume
  EXPECT_EQ(quiet.newly_quiet(start + 10s, known.view()), Partitions{p1});
}

TEST(KafkaQuietPartitions, WithNoQuietAfterAPartitionIsQuietAtItsEnd) {
  Clock::time_point start{};
  KnownEnds known;
  KafkaQuietPartitions quiet(0s);
  quiet.reached_end(p0, 0, start);
  EXPECT_EQ(quiet.newly_quiet(start, known.view()), Partitions{p0});
}

}  // namespace
}  // namespace roo::io
