#include "cluster_test_support.hpp"

#include <gtest/gtest.h>

namespace roo::cluster {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::LogCapture;
using test::wait_until;

TEST(ClusterDrain, StopRequestedOnAWorkerStopsThenExitsEveryone) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  LogCapture::instance().clear();
  workers[2]->cluster->request_stop();
  ASSERT_TRUE(wait_until([&] { return workers[0]->exits == 1 && workers[1]->exits == 1 && workers[2]->exits == 1; }));
  for (auto& worker : workers) {
    EXPECT_EQ(worker->stops, 1);
    EXPECT_TRUE(worker->lost().empty());
  }
  EXPECT_EQ(LogCapture::instance().count("cluster: stopping every worker"), 1u);
  EXPECT_EQ(LogCapture::instance().count("cluster: every worker is drained; exiting"), 1u);
  // A second request after the exit changes nothing.
  workers[1]->cluster->request_stop();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(workers[0]->stops, 1);
}

TEST(ClusterDrain, ExitWaitsForEveryWorkerToBeDrained) {
  auto workers = test::formed_cluster(2);
  ASSERT_EQ(workers.size(), 2u);
  workers[1]->drained = false;
  workers[0]->cluster->request_stop();
  ASSERT_TRUE(wait_until([&] { return workers[1]->stops == 1; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(workers[0]->exits, 0);
  EXPECT_EQ(workers[1]->exits, 0);
  workers[1]->drained = true;
  EXPECT_TRUE(wait_until([&] { return workers[0]->exits == 1 && workers[1]->exits == 1; }));
}

// Every worker says it is drained, but a batch sent to w2 is not processed yet: exit waits for its acknowledgement.
TEST(ClusterDrain, BatchInFlightDelaysExitUntilAcknowledged) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  workers[0]->cluster->send(2, bytes_of("in flight"));
  workers[1]->cluster->request_stop();
  ASSERT_TRUE(wait_until([&] { return workers[0]->stops == 1 && workers[1]->stops == 1 && workers[2]->stops == 1; }));
  std::this_thread::sleep_for(250ms);
  for (auto& worker : workers) {
    EXPECT_EQ(worker->exits, 0);
  }
  auto batch = workers[2]->inbound.pop_for(5000ms);
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->from(), 0u);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(workers[0]->exits, 0);  // popped is not processed
  workers[2]->cluster->acknowledge(batch->from(), test::data_of(*batch).size());
  EXPECT_TRUE(wait_until([&] { return workers[0]->exits == 1 && workers[1]->exits == 1 && workers[2]->exits == 1; }));
  EXPECT_EQ(workers[0]->cluster->budget(2).in_flight(), 0u);
}

TEST(ClusterDrain, StopOnASingleWorker) {
  auto workers = test::formed_cluster(1);
  ASSERT_EQ(workers.size(), 1u);
  workers[0]->cluster->request_stop();
  EXPECT_TRUE(wait_until([&] { return workers[0]->stops == 1 && workers[0]->exits == 1; }));
}

}  // namespace
}  // namespace roo::cluster
