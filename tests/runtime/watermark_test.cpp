#include "watermark_table.hpp"

#include "roo/window/watermark_clock.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace roo::runtime {
namespace {

constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t s = 1'000 * ms;

graph::EventTimeSpec spec(std::int64_t idleness = 2 * s, std::int64_t max_ahead = 10 * s) {
  graph::EventTimeSpec out;
  out.idleness_ns = idleness;
  out.max_ahead_ns = max_ahead;
  return out;
}

TEST(WatermarkClock, IsTheSlowestBusyInput) {
  window::WatermarkClock clock(spec(), false);
  auto a = clock.slot(1, false);
  auto b = clock.slot(2, false);
  clock.observe(a, 100 * s, 1000 * s);
  clock.observe(b, 90 * s, 1000 * s);
  EXPECT_EQ(clock.watermark(1000 * s), 90 * s);
  clock.observe(b, 120 * s, 1000 * s);
  EXPECT_EQ(clock.watermark(1000 * s), 100 * s);
}

TEST(WatermarkClock, HoldsNothingBackWithoutInputAndIsTheWallClockForIngestTime) {
  window::WatermarkClock event_time(spec(), false);
  EXPECT_FALSE(event_time.watermark(1000 * s).has_value());
  window::WatermarkClock ingest(spec(), true);
  EXPECT_EQ(ingest.watermark(1000 * s), 1000 * s);
  EXPECT_EQ(ingest.watermark(999 * s), 1000 * s);  // never goes back
}

TEST(WatermarkClock, AKafkaSourceHoldsEverythingBackUntilItsPartitionsAreKnown) {
  window::WatermarkClock clock(spec(), false);
  clock.wait_for_inputs();
  EXPECT_EQ(clock.watermark(1000 * s), graph::start_of_time);  // not nullopt: peers must wait too
  EXPECT_EQ(clock.next_change(1000 * s), graph::end_of_time);
  auto backlog = clock.slot(1, true);  // assigned, none of its messages read yet
  auto empty = clock.slot(2, true);
  clock.inputs_known();
  clock.went_quiet(empty, 1000 * s);
  EXPECT_EQ(clock.watermark(1000 * s), graph::start_of_time);  // the backlog holds it back, however long it takes
  EXPECT_EQ(clock.watermark(2000 * s), graph::start_of_time);
  clock.observe(backlog, 50 * s, 2000 * s);
  EXPECT_EQ(clock.watermark(2000 * s), 50 * s);
}

TEST(WatermarkClock, AKafkaSourceWithNoPartitionsHereHoldsNothingBack) {
  window::WatermarkClock clock(spec(), false);
  clock.wait_for_inputs();
  clock.inputs_known();
  EXPECT_FALSE(clock.watermark(1000 * s).has_value());
}

// A worker whose partitions are all empty (more workers than partitions with data, or a partition read to its end by
// the worker that had it before a rescale) holds nothing back once its source says they are quiet, and sleeps until
// an event comes.
TEST(WatermarkClock, EmptyPartitionsHoldNothingBackOnceQuiet) {
  window::WatermarkClock clock(spec(), false);
  clock.wait_for_inputs();
  auto empty = clock.slot(1, true);
  clock.inputs_known();
  EXPECT_EQ(clock.watermark(1000 * s), graph::start_of_time);  // not quiet yet: it may have a backlog
  EXPECT_EQ(clock.watermark(1100 * s), graph::start_of_time);  // the executor's clock does not decide that
  EXPECT_EQ(clock.next_change(1100 * s), graph::end_of_time);  // only the source's news can
  clock.went_quiet(empty, 1100 * s);
  EXPECT_FALSE(clock.watermark(1100 * s).has_value());  // quiet, and nothing seen
  EXPECT_EQ(clock.next_change(1100 * s), graph::end_of_time);
  clock.observe(empty, 50 * s, 1003 * s);
  EXPECT_EQ(clock.watermark(1003 * s), 50 * s);
}

TEST(WatermarkClock, AnIdleInputNoLongerHoldsItBack) {
  window::WatermarkClock clock(spec(), false);
  auto quiet = clock.slot(1, false);
  auto busy = clock.slot(2, false);
  clock.observe(quiet, 10 * s, 1000 * s);
  clock.observe(busy, 50 * s, 1001 * s);
  EXPECT_EQ(clock.watermark(1001 * s), 10 * s);
  EXPECT_EQ(clock.next_change(1001 * s), 1002 * s);  // when `quiet` turns idle
  clock.observe(busy, 60 * s, 1002 * s);
  EXPECT_EQ(clock.watermark(1002 * s), 60 * s);
}

TEST(WatermarkClock, AKafkaPartitionWithABacklogIsNeverIdle) {
  window::WatermarkClock clock(spec(), false);
  auto behind = clock.slot(1, true);
  auto busy = clock.slot(2, true);
  clock.observe(behind, 10 * s, 1000 * s);
  clock.observe(busy, 50 * s, 1000 * s);
  clock.observe(busy, 60 * s, 1010 * s);
  // Nothing of `behind` for 10 s of the executor's time, but its source has not said it is quiet: it may have a
  // backlog, or its newer messages may wait in the mailbox behind `busy`'s (the windows flake of docs/notes.md,
  // session 24, when the executor's clock decided).
  EXPECT_EQ(clock.watermark(1010 * s), 10 * s);
  EXPECT_EQ(clock.next_change(1010 * s), graph::end_of_time);  // only the source's news can change that
  clock.went_quiet(behind, 1010 * s);
  EXPECT_EQ(clock.watermark(1010 * s), 60 * s);  // idle from the news on
  clock.observe(behind, 20 * s, 1011 * s);       // and active again with its next message
  clock.observe(busy, 70 * s, 1011 * s);
  EXPECT_EQ(clock.watermark(1011 * s), 60 * s);  // held there (it never goes back) until `behind` passes it
  clock.went_quiet(behind, 1013 * s);
  clock.went_quiet(busy, 1013 * s);
  EXPECT_EQ(clock.watermark(1013 * s), 70 * s);  // all quiet: the largest seen, 2 s after the last event
  EXPECT_EQ(clock.watermark(1015 * s), 72 * s);  // then on with the wall clock
  EXPECT_EQ(clock.next_change(1015 * s), 1015 * s);
}

TEST(WatermarkClock, WhenEverythingIsQuietItMovesWithTheWallClockWhoeverWentQuietFirst) {
  for (bool a_first : {true, false}) {
    window::WatermarkClock clock(spec(), false);
    auto a = clock.slot(1, false);
    auto b = clock.slot(2, false);
    clock.observe(a_first ? a : b, 40 * s, 1000 * s);
    clock.observe(a_first ? b : a, 30 * s, 1001 * s);
    EXPECT_EQ(clock.watermark(1003 * s), 40 * s) << a_first;  // both idle since 1003: the largest seen
    EXPECT_EQ(clock.watermark(1005 * s), 42 * s) << a_first;  // then on with the wall clock
    EXPECT_EQ(clock.next_change(1005 * s), 1005 * s);
  }
}

TEST(WatermarkClock, AnEventFarAheadOfTheWallClockDoesNotMoveIt) {
  window::WatermarkClock clock(spec(), false);
  auto in = clock.slot(1, false);
  clock.observe(in, 1000 * s, 1000 * s);
  clock.observe(in, 1000 * s + 86400 * s, 1000 * s);  // a day ahead
  EXPECT_EQ(clock.watermark(1000 * s), 1000 * s);
  clock.observe(in, 1001 * s, 1001 * s);
  EXPECT_EQ(clock.watermark(1001 * s), 1001 * s);
}

TEST(WatermarkClock, ForgetsLongClosedConnectionsButNotWhatTheySaw) {
  window::WatermarkClock clock(spec(), false);
  for (std::uint64_t connection = 0; connection < 100; ++connection) {
    clock.observe(clock.slot(connection, false), static_cast<std::int64_t>(connection) * s, 1000 * s);
  }
  auto live = clock.slot(1000, false);
  clock.observe(live, 50 * s, 1100 * s);
  EXPECT_EQ(clock.watermark(1100 * s), 50 * s);          // the others are idle (and now forgotten)
  EXPECT_EQ(clock.watermark(1103 * s), 99 * s + 1 * s);  // all quiet: the largest seen (99 s) + 1 s past idleness
}

// A rescale dealt the source's partitions again: a partition handed on with a backlog (never quiet) held the
// watermark back; once dealt away it no longer does. The partitions read from the resume on may include one taken
// from another worker with a backlog older than anything this clock reached: it starts again from nothing, and each
// new partition holds it back from its start.
TEST(WatermarkClock, InputsDealtAgainNoLongerHoldItBackAndTheNewOnesDoFromTheStart) {
  window::WatermarkClock clock(spec(), false);
  clock.wait_for_inputs();
  auto handed_on = clock.slot(1, true);
  auto kept = clock.slot(2, true);
  clock.inputs_known();
  clock.observe(handed_on, 10 * s, 1000 * s);
  clock.observe(kept, 50 * s, 1000 * s);
  clock.went_quiet(kept, 1002 * s);
  EXPECT_EQ(clock.watermark(1010 * s), 10 * s);  // the backlog of partition 1 holds it, however long

  clock.deal_again(true);                                      // the source reads again from the resume on
  EXPECT_EQ(clock.watermark(1010 * s), graph::start_of_time);  // until its first batch names its partitions
  EXPECT_EQ(clock.next_change(1010 * s), graph::end_of_time);
  auto taken = clock.slot(3, true);  // partition 3 came from another worker, with a backlog
  auto again = clock.slot(2, true);  // partition 1 is another worker's now
  clock.inputs_known();
  EXPECT_EQ(clock.watermark(1011 * s), graph::start_of_time);
  clock.observe(again, 60 * s, 1011 * s);
  clock.observe(taken, 5 * s, 1011 * s);
  EXPECT_EQ(clock.watermark(1011 * s), 5 * s);  // the backlog taken over holds it below what it had reached
  clock.observe(taken, 70 * s, 1012 * s);
  EXPECT_EQ(clock.watermark(1012 * s), 60 * s);
  clock.went_quiet(taken, 1014 * s);
  clock.went_quiet(again, 1014 * s);
  EXPECT_EQ(clock.watermark(1014 * s), 70 * s);
  EXPECT_EQ(clock.watermark(1015 * s), 71 * s);  // all quiet: on with the wall clock from the largest seen
}

TEST(WatermarkClock, ASourceThatReadsNothingAfterARescaleHoldsNothingBack) {
  window::WatermarkClock clock(spec(), false);
  auto backlog = clock.slot(1, true);
  clock.observe(backlog, 10 * s, 1000 * s);
  clock.deal_again(false);  // a leaver, or a worker no partition is dealt to
  EXPECT_EQ(clock.watermark(1002 * s), 10 * s);
  EXPECT_EQ(clock.watermark(1005 * s), 13 * s);  // quiet: it moves with the wall clock
}

TEST(WatermarkClock, AFinishedSourceLetsEverythingFire) {
  window::WatermarkClock clock(spec(), true);
  clock.finish();
  EXPECT_EQ(clock.watermark(0), graph::end_of_time);
}

graph::Plan two_sources(bool kafka_second) {
  graph::Plan plan;
  plan.sources.resize(2);
  plan.sources[0].settings = graph::TcpSourceSettings{};
  plan.sources[0].event_time = python::PyRef();
  if (kafka_second) {
    plan.sources[1].settings = graph::KafkaSourceSettings{};
  }
  return plan;
}

TEST(WatermarkTable, AStageWaitsForEveryPeerAndTheSlowestSourceFeedingIt) {
  auto plan = two_sources(true);
  WatermarkTable here(plan, 2, 0);
  WatermarkTable peer(plan, 2, 1);
  auto& kafka = peer.clock(1);
  kafka.observe(kafka.slot(7, true), 500 * s, 1000 * s);
  kafka.inputs_known();                                           // worker 1 reads partition 7
  here.clock(1).inputs_known();                                   // worker 0 reads no partition
  EXPECT_EQ(here.combined({0}, 1000 * s), graph::start_of_time);  // worker 1 not heard yet
  std::string error;
  ASSERT_TRUE(here.receive(
      1,
      [&] {
        auto b = peer.encode(1000 * s);
        return std::string(b.begin(), b.end());
      }(),
      error))
      << error;
  EXPECT_EQ(here.combined({0}, 1000 * s), 1000 * s);    // ingest time on both workers
  EXPECT_EQ(here.combined({0, 1}, 1000 * s), 500 * s);  // the Kafka source, read on worker 1 only
  EXPECT_EQ(here.combined({1}, 1000 * s), 500 * s);
}

TEST(WatermarkTable, RefusesMalformedWatermarks) {
  auto plan = two_sources(false);
  WatermarkTable here(plan, 2, 0);
  std::string error;
  EXPECT_FALSE(here.receive(1, std::string("\x00\x01", 2), error));
  EXPECT_EQ(error, "watermarks for 1 sources in 2 bytes; this application has 2");
  EXPECT_FALSE(here.receive(0, std::string(20, '\0'), error));
  EXPECT_EQ(error, "from an unknown worker 0");
  EXPECT_EQ(here.combined({0}, 5 * s), graph::start_of_time);  // still not heard
}

std::string encoded(WatermarkTable& table, std::int64_t now) {
  auto bytes = table.encode(now);
  return std::string(bytes.begin(), bytes.end());
}

// Growing and shrinking: a joiner counts once heard (even when its watermarks come before the news of its joining),
// a leaver until it says it finished, a lost worker no more, and a worker that left before this one joined not at
// all.
TEST(WatermarkTable, RowsFollowTheClusterAsItGrowsAndShrinks) {
  auto plan = two_sources(false);
  WatermarkTable here(plan, 2, 0);
  WatermarkTable leaver(plan, 2, 1);
  WatermarkTable joiner(plan, 3, 2);
  std::string error;
  ASSERT_TRUE(here.receive(1, encoded(leaver, 1000 * s), error)) << error;
  EXPECT_EQ(here.combined({0}, 1000 * s), 1000 * s);
  ASSERT_TRUE(here.receive(2, encoded(joiner, 900 * s), error)) << error;  // before members_changed
  EXPECT_EQ(here.combined({0}, 1000 * s), 900 * s);
  here.members_changed(3, {false, true, false});  // worker 1 leaves: it still holds what it last said
  ASSERT_TRUE(here.receive(2, encoded(joiner, 1100 * s), error)) << error;
  EXPECT_EQ(here.combined({0}, 1100 * s), 1000 * s);
  leaver.finish_all();
  ASSERT_TRUE(here.receive(1, encoded(leaver, 1000 * s), error)) << error;
  EXPECT_EQ(here.combined({0}, 1100 * s), 1100 * s);
  here.members_changed(4, {false, true, false, false});  // a joiner not heard yet holds nothing back (a new input)
  EXPECT_EQ(here.combined({0}, 1200 * s), 1100 * s);
  here.peer_gone(2);  // lost: what it last said no longer counts
  EXPECT_EQ(here.combined({0}, 1200 * s), 1200 * s);

  // A worker joining after worker 1 left never hears it: worker 1 holds nothing back there; worker 0 does until heard.
  WatermarkTable late(plan, 4, 3);
  late.members_changed(4, {false, true, false, false});
  ASSERT_TRUE(late.receive(2, encoded(joiner, 1200 * s), error)) << error;
  EXPECT_EQ(late.combined({0}, 1200 * s), graph::start_of_time);  // worker 0 not heard yet
  ASSERT_TRUE(late.receive(0, encoded(here, 1200 * s), error)) << error;
  EXPECT_EQ(late.combined({0}, 1200 * s), 1200 * s);
  EXPECT_FALSE(late.receive(WatermarkTable::max_workers, encoded(here, 1200 * s), error));
  EXPECT_EQ(error, "from an unknown worker 1024");
}

}  // namespace
}  // namespace roo::runtime
