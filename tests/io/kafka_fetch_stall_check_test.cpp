#include "kafka_fetch_stall_check.hpp"

#include <gtest/gtest.h>

namespace roo::io {
namespace {

using namespace std::chrono_literals;
using Clock = KafkaFetchStallCheck::Clock;
using Reading = KafkaFetchStallCheck::Reading;

const PartitionId p0{.topic = 0, .partition = 0};
const PartitionId p1{.topic = 0, .partition = 1};

TEST(KafkaFetchStallCheck, IsDueOnlyAfterItsInterval) {
  Clock::time_point start{};
  KafkaFetchStallCheck check(10s, start);
  EXPECT_FALSE(check.due(start + 9s));
  EXPECT_TRUE(check.due(start + 10s));
  (void)check.check(start + 10s, {});
  EXPECT_FALSE(check.due(start + 19s));
  EXPECT_TRUE(check.due(start + 20s));
}

TEST(KafkaFetchStallCheck, FindsAPartitionWhosePositionStoodStillWhileMessagesWaited) {
  Clock::time_point start{};
  KafkaFetchStallCheck check(10s, start);
  EXPECT_TRUE(
      check.check(start + 10s, {{p0, Reading{.position = 500, .lag = 40}}, {p1, Reading{.position = 70, .lag = 3}}})
          .empty());                                                                   // no earlier reading
  auto stalled = check.check(start + 20s, {{p0, Reading{.position = 500, .lag = 90}},  // stood still
                                           {p1, Reading{.position = 73, .lag = 0}}});  // moved
  EXPECT_EQ(stalled, std::vector<PartitionId>{p0});
}

TEST(KafkaFetchStallCheck, APartitionNeverReadWithALagIsStalledToo) {
  Clock::time_point start{};
  KafkaFetchStallCheck check(10s, start);
  (void)check.check(start + 10s, {{p0, Reading{.position = -1, .lag = 1000}}});
  EXPECT_EQ(check.check(start + 20s, {{p0, Reading{.position = -1, .lag = 1000}}}), std::vector<PartitionId>{p0});
}

TEST(KafkaFetchStallCheck, APartitionAtItsEndOrOfUnknownLagIsNotStalled) {
  Clock::time_point start{};
  KafkaFetchStallCheck check(10s, start);
  (void)check.check(start + 10s, {{p0, Reading{.position = 500, .lag = 0}}, {p1, Reading{.position = 9, .lag = -1}}});
  EXPECT_TRUE(
      check.check(start + 20s, {{p0, Reading{.position = 500, .lag = 0}}, {p1, Reading{.position = 9, .lag = -1}}})
          .empty());
  // A lag that appeared only now: the next check decides.
  EXPECT_TRUE(check.check(start + 30s, {{p0, Reading{.position = 500, .lag = 5}}}).empty());
  EXPECT_EQ(check.check(start + 40s, {{p0, Reading{.position = 500, .lag = 5}}}), std::vector<PartitionId>{p0});
}

TEST(KafkaFetchStallCheck, APartitionAtItsEndBeforeAnOpenTransactionIsNotStalled) {
  // read_committed: the position waits at the open transaction's first record while the high watermark grows.
  Clock::time_point start{};
  KafkaFetchStallCheck check(10s, start);
  (void)check.check(start + 10s, {{p0, Reading{.position = 500, .lag = 40, .at_end = true}}});
  EXPECT_TRUE(check.check(start + 20s, {{p0, Reading{.position = 500, .lag = 90, .at_end = true}}}).empty());
}

TEST(KafkaFetchStallCheck, BackpressureExcusesAStandstill) {
  Clock::time_point start{};
  KafkaFetchStallCheck check(10s, start);
  (void)check.check(start + 10s, {{p0, Reading{.position = 500, .lag = 40}}});
  check.did_not_poll(6s);  // the mailbox was full for more than half the time: nothing was read, rightly
  EXPECT_TRUE(check.check(start + 20s, {{p0, Reading{.position = 500, .lag = 40}}}).empty());
  check.did_not_poll(4s);  // the next interval polled for 6 s of 10: long enough
  EXPECT_EQ(check.check(start + 30s, {{p0, Reading{.position = 500, .lag = 40}}}), std::vector<PartitionId>{p0});
}

TEST(KafkaFetchStallCheck, AStalledOrForgottenPartitionStartsOver) {
  Clock::time_point start{};
  KafkaFetchStallCheck check(10s, start);
  (void)check.check(start + 10s, {{p0, Reading{.position = 500, .lag = 40}}, {p1, Reading{.position = 7, .lag = 2}}});
  check.forget(p1);  // assigned again
  EXPECT_EQ(
      check.check(start + 20s, {{p0, Reading{.position = 500, .lag = 40}}, {p1, Reading{.position = 7, .lag = 2}}}),
      std::vector<PartitionId>{p0});
  // p0 was reported: it needs two fresh readings again; p1 now has one.
  EXPECT_EQ(
      check.check(start + 30s, {{p0, Reading{.position = 500, .lag = 40}}, {p1, Reading{.position = 7, .lag = 2}}}),
      std::vector<PartitionId>{p1});
}

}  // namespace
}  // namespace roo::io
