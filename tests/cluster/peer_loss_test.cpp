#include "cluster_test_support.hpp"

#include <gtest/gtest.h>

namespace roo::cluster {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::LogCapture;
using test::wait_until;

TEST(ClusterPeerLoss, LostWorkerIsReportedItsBudgetReleasedAndLaterSendsDropped) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  LogCapture::instance().clear();
  auto& initializer = *workers[0];
  auto& w1 = *workers[1];
  initializer.cluster->send(2, bytes_of("never acknowledged"));
  w1.cluster->send(2, bytes_of("neither"));
  ASSERT_TRUE(wait_until([&] { return workers[2]->inbound.size() == 2; }));
  EXPECT_EQ(initializer.cluster->budget(2).in_flight(), 18u);
  workers[2].reset();  // w2 goes away
  ASSERT_TRUE(wait_until([&] { return initializer.lost().size() == 1 && w1.lost().size() == 1; }));
  EXPECT_EQ(initializer.lost(), std::vector<std::size_t>{2});
  EXPECT_EQ(w1.lost(), std::vector<std::size_t>{2});
  EXPECT_EQ(initializer.cluster->budget(2).in_flight(), 0u);
  EXPECT_EQ(w1.cluster->budget(2).in_flight(), 0u);
  EXPECT_EQ(initializer.cluster->workers_up(), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(w1.cluster->workers_up(), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(LogCapture::instance().count_containing("cluster: lost worker 'w2' ("), 2u);
  EXPECT_EQ(LogCapture::instance().count_containing("); its key groups are unreachable until the cluster is restarted"),
            2u);
  initializer.cluster->send(2, bytes_of("dropped"));
  EXPECT_EQ(initializer.cluster->budget(2).in_flight(), 0u);
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: dropped 1 batches for lost worker 'w2'"));
  initializer.cluster->send(2, bytes_of("dropped too"));
  initializer.cluster->send(2, bytes_of("and this"));
  std::this_thread::sleep_for(50ms);
  // Rate-limited: the next line comes only after the interval.
  EXPECT_EQ(LogCapture::instance().count_containing("cluster: dropped"), 1u);
  // The survivors still talk.
  w1.cluster->send(0, bytes_of("still here"));
  auto batch = initializer.inbound.pop_for(5000ms);
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(test::text_of(*batch), "still here");
  initializer.cluster->acknowledge(batch->from(), test::data_of(*batch).size());
  // And the drain protocol does not wait for the lost worker.
  w1.cluster->request_stop();
  EXPECT_TRUE(wait_until([&] { return initializer.exits == 1 && w1.exits == 1; }));
}

TEST(ClusterPeerLoss, LosingTheInitializerStopsAndExitsTheOthersLocally) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  LogCapture::instance().clear();
  auto& w1 = *workers[1];
  auto& w2 = *workers[2];
  w1.drained = false;
  workers[0].reset();
  ASSERT_TRUE(wait_until([&] { return w1.stops == 1 && w2.exits == 1; }));
  EXPECT_EQ(w1.lost(), std::vector<std::size_t>{0});
  EXPECT_EQ(w2.lost(), std::vector<std::size_t>{0});
  EXPECT_EQ(w2.stops, 1);
  EXPECT_EQ(w1.exits, 0);  // not drained yet
  w1.drained = true;
  EXPECT_TRUE(wait_until([&] { return w1.exits == 1; }));
  EXPECT_EQ(LogCapture::instance().count("cluster: the initializer is gone; this worker stops on its own"), 2u);
  EXPECT_EQ(LogCapture::instance().count_containing("cluster: lost worker 'initializer' ("), 2u);
}

}  // namespace
}  // namespace roo::cluster
