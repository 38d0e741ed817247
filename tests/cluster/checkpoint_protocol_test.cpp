// The cluster's checkpoint messages (checkpoint_protocol.cpp; markers: data_channels.cpp) between real workers over
// loopback: begin, markers in order with the data, parts, complete; and roll_back_on_loss, where a lost peer is
// reported and nothing drains.
#include "cluster_test_support.hpp"

#include <gtest/gtest.h>

namespace roo::cluster {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::LogCapture;
using test::wait_until;

void roll_back(ClusterConfig& config) {
  config.roll_back_on_loss = true;
  config.restore_checkpoint = 7;  // only the initializer's counts
}

TEST(ClusterCheckpoints, BeginPartsAndCompleteTravelTheControlChannels) {
  auto workers = test::formed_cluster(3, 1024, roll_back);
  ASSERT_EQ(workers.size(), 3u);
  for (auto& worker : workers) {
    EXPECT_EQ(worker->membership().restore_checkpoint, 7u);
  }
  ASSERT_TRUE(workers[0]->cluster->begin_checkpoint(4));  // nothing holds the membership
  ASSERT_TRUE(wait_until(
      [&] { return workers[1]->checkpoint_events().size() == 1 && workers[2]->checkpoint_events().size() == 1; }));
  EXPECT_EQ(workers[1]->checkpoint_events(), std::vector<std::string>{"begin 4"});
  EXPECT_TRUE(workers[0]->checkpoint_events().empty());  // the initializer starts its own part itself
  workers[1]->cluster->report_checkpoint_part(4, true, "part of w1");
  workers[2]->cluster->report_checkpoint_part(4, false, "disk full");
  ASSERT_TRUE(wait_until([&] { return workers[0]->checkpoint_events().size() == 2; }));
  auto parts = workers[0]->checkpoint_events();
  std::sort(parts.begin(), parts.end());
  EXPECT_EQ(parts, (std::vector<std::string>{"part 4 from 1 ok: part of w1", "part 4 from 2 failed: disk full"}));
  workers[0]->cluster->end_checkpoint(4, true);
  ASSERT_TRUE(wait_until([&] { return workers[2]->checkpoint_events().size() == 2; }));
  EXPECT_EQ(workers[2]->checkpoint_events(), (std::vector<std::string>{"begin 4", "complete 4"}));
}

TEST(ClusterCheckpoints, AMarkerArrivesAfterEverythingSentBeforeIt) {
  auto workers = test::formed_cluster(2, 1024, roll_back);
  ASSERT_EQ(workers.size(), 2u);
  auto& sender = *workers[1];
  auto& receiver = *workers[0];
  for (int i = 0; i < 50; ++i) {
    sender.cluster->send(0, bytes_of("batch " + std::to_string(i)));
  }
  sender.cluster->send_marker(0, 9);
  sender.cluster->send(0, bytes_of("after"));
  for (int i = 0; i < 50; ++i) {
    auto batch = receiver.inbound.pop_for(5000ms);
    ASSERT_TRUE(batch.has_value());
    EXPECT_EQ(test::text_of(*batch), "batch " + std::to_string(i));
  }
  auto marker = receiver.inbound.pop_for(5000ms);
  ASSERT_TRUE(marker.has_value());
  const auto* barrier = std::get_if<core::CheckpointMarker>(&marker->message);
  ASSERT_NE(barrier, nullptr);
  EXPECT_EQ(barrier->id, 9u);
  EXPECT_EQ(marker->from(), 1u);
  auto after = receiver.inbound.pop_for(5000ms);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(test::text_of(*after), "after");
}

TEST(ClusterCheckpoints, RollingBackALostPeerIsReportedWithoutStoppingOrDraining) {
  auto workers = test::formed_cluster(3, 1024, roll_back);
  ASSERT_EQ(workers.size(), 3u);
  LogCapture::instance().clear();
  workers[0].reset();  // the initializer goes
  ASSERT_TRUE(wait_until([&] { return workers[1]->lost().size() == 1 && workers[2]->lost().size() == 1; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(workers[1]->stops, 0);  // no "stops on its own": the runtime rolls back
  EXPECT_EQ(workers[2]->exits, 0);
  EXPECT_EQ(LogCapture::instance().count_containing("cluster: lost worker 'initializer' ("), 2u);
  EXPECT_EQ(LogCapture::instance().count_containing("the cluster rolls back to its last complete checkpoint"), 2u);
  EXPECT_EQ(LogCapture::instance().count("cluster: the initializer is gone; this worker stops on its own"), 0u);
}

TEST(ClusterCheckpoints, ARestartedMemberIsTurnedAwayUnansweredAndItsOldSelfMarkedLost) {
  auto workers = test::formed_cluster(2, 1024, roll_back);
  ASSERT_EQ(workers.size(), 2u);
  LogCapture::instance().clear();
  // A new process named like member w1, while the old w1's connections still look alive: the initializer
  // marks w1 lost (the runtime rolls back) and closes the newcomer's connection without a reject, so it retries.
  auto config = test::worker_config("w1", workers[0]->membership().workers[0].control.port);
  config.roll_back_on_loss = true;
  config.join_timeout = 1000ms;
  test::TestWorker returning(config);
  returning.start_forming();
  ASSERT_TRUE(wait_until([&] { return workers[0]->lost().size() == 1; }));
  EXPECT_EQ(workers[0]->lost(), std::vector<std::size_t>{1});
  auto logged = [](const char* text) {
    return wait_until([&] { return LogCapture::instance().count_containing(text) > 0; });
  };
  EXPECT_TRUE(logged("cluster: worker 'w1' is back from 127.0.0.1:"));
  EXPECT_TRUE(logged("cluster: lost the connection to the initializer at 127.0.0.1:"));  // the newcomer retries
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(LogCapture::instance().count_containing("is back from"), 1u);
  EXPECT_EQ(LogCapture::instance().count_containing("joining again"), 1u);  // rate-limited
  EXPECT_EQ(LogCapture::instance().count_containing("is already a member"), 0u);
}

}  // namespace
}  // namespace roo::cluster
