#include "cluster_test_support.hpp"

#include <gtest/gtest.h>

namespace roo::cluster {
namespace {

using namespace std::chrono_literals;
using test::LogCapture;
using test::TestWorker;

std::vector<std::string> names(const Membership& membership) {
  std::vector<std::string> out;
  for (const auto& worker : membership.workers) {
    out.push_back(worker.name);
  }
  return out;
}

void expect_same_membership(const Membership& a, const Membership& b) {
  ASSERT_EQ(a.workers.size(), b.workers.size());
  EXPECT_EQ(a.key_groups, b.key_groups);
  for (std::size_t i = 0; i < a.workers.size(); ++i) {
    EXPECT_EQ(a.workers[i].name, b.workers[i].name);
    EXPECT_EQ(a.workers[i].control, b.workers[i].control);
    EXPECT_EQ(a.workers[i].data, b.workers[i].data);
    EXPECT_EQ(a.workers[i].external, b.workers[i].external);
  }
}

TEST(ClusterFormation, SingleWorkerFormsAtOnce) {
  TestWorker initializer(test::initializer_config(test::free_port(), 1));
  initializer.start_forming();
  ASSERT_TRUE(initializer.wait_formed()) << initializer.error().value_or("");
  Membership membership = initializer.membership();
  EXPECT_EQ(names(membership), std::vector<std::string>{"initializer"});
  EXPECT_EQ(membership.self, 0u);
  EXPECT_EQ(membership.key_groups, 12u);
  EXPECT_NE(membership.workers[0].data.port, 0);
  EXPECT_EQ(initializer.cluster->workers_up(), std::vector<bool>{true});
}

TEST(ClusterFormation, TwoWorkersAgreeOnMembership) {
  LogCapture::instance().clear();
  auto workers = test::formed_cluster(2);
  ASSERT_EQ(workers.size(), 2u);
  Membership a = workers[0]->membership();
  Membership b = workers[1]->membership();
  EXPECT_EQ(names(a), (std::vector<std::string>{"initializer", "w1"}));
  EXPECT_EQ(a.self, 0u);
  EXPECT_EQ(b.self, 1u);
  EXPECT_EQ(b.key_groups, 12u);
  expect_same_membership(a, b);
  EXPECT_EQ(LogCapture::instance().count("cluster: worker 'w1' joined (2 of 2)"), 1u);
  EXPECT_EQ(LogCapture::instance().count("cluster: all 2 workers joined"), 1u);
  EXPECT_EQ(LogCapture::instance().count("cluster: data channels up"), 2u);
}

// Workers start first (they retry), the initializer last; names are sorted whatever the join order.
TEST(ClusterFormation, ThreeWorkersInAnyStartOrder) {
  LogCapture::instance().clear();
  std::uint16_t control = test::free_port();
  TestWorker zed(test::worker_config("zed", control));
  TestWorker alpha(test::worker_config("alpha", control));
  TestWorker initializer(test::initializer_config(control, 3));
  zed.start_forming();
  ASSERT_TRUE(LogCapture::instance().wait_for("cluster: cannot reach the initializer at 127.0.0.1:" +
                                              std::to_string(control) + " (connection refused); retrying"));
  initializer.start_forming();
  ASSERT_TRUE(LogCapture::instance().wait_for("cluster: worker 'zed' joined (2 of 3)"));
  alpha.start_forming();
  ASSERT_TRUE(initializer.wait_formed()) << initializer.error().value_or("");
  ASSERT_TRUE(zed.wait_formed()) << zed.error().value_or("");
  ASSERT_TRUE(alpha.wait_formed()) << alpha.error().value_or("");
  Membership m0 = initializer.membership();
  EXPECT_EQ(names(m0), (std::vector<std::string>{"initializer", "alpha", "zed"}));
  EXPECT_EQ(alpha.membership().self, 1u);
  EXPECT_EQ(zed.membership().self, 2u);
  expect_same_membership(m0, alpha.membership());
  expect_same_membership(m0, zed.membership());
  EXPECT_EQ(LogCapture::instance().count("cluster: worker 'alpha' joined (3 of 3)"), 1u);
  EXPECT_EQ(LogCapture::instance().count("cluster: all 3 workers joined"), 1u);
  EXPECT_EQ(LogCapture::instance().count("cluster: data channels up"), 3u);
  EXPECT_EQ(zed.cluster->workers_up(), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(m0.owner(0), 0u);
  EXPECT_EQ(m0.owner(4), 1u);
  EXPECT_EQ(m0.owner(11), 2u);
}

TEST(ClusterFormation, DuplicateNameIsRejectedWithTheReason) {
  LogCapture::instance().clear();
  std::uint16_t control = test::free_port();
  TestWorker initializer(test::initializer_config(control, 3));
  TestWorker first(test::worker_config("w1", control));
  initializer.start_forming();
  first.start_forming();
  ASSERT_TRUE(LogCapture::instance().wait_for("cluster: worker 'w1' joined (2 of 3)"));
  TestWorker second(test::worker_config("w1", control));
  second.start_forming();
  ASSERT_TRUE(second.wait_done());
  EXPECT_EQ(second.error(),
            "join the cluster at 127.0.0.1:" + std::to_string(control) + ": a worker named 'w1' is already a member");
  TestWorker named_like_initializer(test::worker_config("initializer", control));
  named_like_initializer.start_forming();
  ASSERT_TRUE(named_like_initializer.wait_done());
  EXPECT_EQ(named_like_initializer.error(), "join the cluster at 127.0.0.1:" + std::to_string(control) +
                                                ": a worker named 'initializer' is already a member");
  // The cluster still forms with a proper third worker.
  TestWorker third(test::worker_config("w2", control));
  third.start_forming();
  EXPECT_TRUE(initializer.wait_formed());
  EXPECT_TRUE(first.wait_formed());
  EXPECT_TRUE(third.wait_formed());
}

TEST(ClusterFormation, DifferentApplicationIsRejected) {
  LogCapture::instance().clear();
  std::uint16_t control = test::free_port();
  TestWorker initializer(test::initializer_config(control, 2));
  auto config = test::worker_config("w1", control);
  config.app_fingerprint = "app-2";
  TestWorker stranger(config);
  initializer.start_forming();
  stranger.start_forming();
  ASSERT_TRUE(stranger.wait_done());
  // The refused worker learns nothing about the initializer's application; the initializer's log says more.
  EXPECT_EQ(stranger.error(), "join the cluster at 127.0.0.1:" + std::to_string(control) +
                                  ": its application differs from the initializer's");
  EXPECT_EQ(LogCapture::instance().count_containing(
                ": its application differs from the initializer's (app fingerprint 'app-2', the initializer's is "
                "'app-1')"),
            1u);
  EXPECT_FALSE(initializer.wait_done(100ms));
}

// A hello after formation is a worker joining a running cluster: tests/cluster/rescale_test.cpp.

TEST(ClusterFormation, JoinTimesOutWhenNoInitializerAnswers) {
  LogCapture::instance().clear();
  std::uint16_t control = test::free_port();
  auto config = test::worker_config("w1", control);
  config.join_timeout = 700ms;
  TestWorker lonely(config);
  auto started = std::chrono::steady_clock::now();
  lonely.start_forming();
  ASSERT_TRUE(lonely.wait_done());
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(lonely.error(), "join the cluster at 127.0.0.1:" + std::to_string(control) +
                                ": the initializer did not answer within 0.7 s");
  EXPECT_GE(waited, 650ms);
  EXPECT_LT(waited, 3000ms);
  // Retried 100, 200, 400 ms apart, but warned once.
  EXPECT_EQ(LogCapture::instance().count("cluster: cannot reach the initializer at 127.0.0.1:" +
                                         std::to_string(control) + " (connection refused); retrying"),
            1u);
}

TEST(ClusterFormation, BusyControlPortIsAnError) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::acceptor taken(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::uint16_t port = taken.local_endpoint().port();
  TestWorker initializer(test::initializer_config(port, 1));
  initializer.start_forming();
  ASSERT_TRUE(initializer.wait_done());
  EXPECT_EQ(initializer.error(),
            "listen on 127.0.0.1:" + std::to_string(port) + " for the control channel: address already in use");
}

TEST(ClusterFormation, StopWhileFormingEndsForm) {
  std::uint16_t control = test::free_port();
  TestWorker initializer(test::initializer_config(control, 3));
  initializer.start_forming();
  EXPECT_FALSE(initializer.wait_done(50ms));
  initializer.cluster->stop();
  ASSERT_TRUE(initializer.wait_done());
  EXPECT_EQ(initializer.error(), "form the cluster: the worker stopped before the cluster formed");
}

}  // namespace
}  // namespace roo::cluster
