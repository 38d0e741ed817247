#include "cluster_test_support.hpp"

#include <gtest/gtest.h>

namespace roo::cluster {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::wait_until;

std::string payload(std::size_t i) { return "batch-" + std::to_string(i) + std::string(i % 97, 'x'); }

std::size_t total_bytes(std::size_t count) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    total += payload(i).size();
  }
  return total;
}

/// Pops up to `count` batches from a worker's mailbox (waiting up to 5 s for each).
std::vector<core::PeerInput> pop(test::TestWorker& worker, std::size_t count) {
  std::vector<core::PeerInput> out;
  while (out.size() < count) {
    auto batch = worker.inbound.pop_for(5000ms);
    if (!batch) {
      break;
    }
    out.push_back(std::move(*batch));
  }
  return out;
}

TEST(ClusterDataChannel, BatchesArriveInOrderExactlyOnceAndAcksReleaseTheBudget) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  auto& sender = *workers[1];
  auto& receiver = *workers[2];
  constexpr std::size_t count = 2000;
  for (std::size_t i = 0; i < count; ++i) {
    sender.cluster->send(2, bytes_of(payload(i)));
  }
  // Nothing acknowledged yet: every byte is still charged.
  EXPECT_EQ(sender.cluster->budget(2).in_flight(), total_bytes(count));
  auto batches = pop(receiver, count);
  ASSERT_EQ(batches.size(), count);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(batches[i].from(), 1u);
    ASSERT_EQ(test::text_of(batches[i]), payload(i)) << i;
  }
  EXPECT_FALSE(receiver.inbound.pop_for(50ms).has_value());  // and nothing more
  EXPECT_EQ(sender.cluster->budget(2).in_flight(), total_bytes(count));
  std::size_t half = count / 2;
  receiver.cluster->acknowledge(1, total_bytes(half));
  EXPECT_TRUE(
      wait_until([&] { return sender.cluster->budget(2).in_flight() == total_bytes(count) - total_bytes(half); }));
  receiver.cluster->acknowledge(1, total_bytes(count) - total_bytes(half));
  EXPECT_TRUE(sender.cluster->budget(2).wait_empty(5000ms));
  // The other channels were untouched.
  EXPECT_EQ(sender.cluster->budget(0).in_flight(), 0u);
  EXPECT_FALSE(workers[0]->inbound.pop_for(10ms).has_value());
}

TEST(ClusterDataChannel, EveryPairExchangesBatchesBothWays) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  for (std::size_t from = 0; from < 3; ++from) {
    for (std::size_t to = 0; to < 3; ++to) {
      if (from != to) {
        workers[from]->cluster->send(to, bytes_of(std::to_string(from) + "->" + std::to_string(to)));
      }
    }
  }
  for (std::size_t to = 0; to < 3; ++to) {
    auto batches = pop(*workers[to], 2);
    ASSERT_EQ(batches.size(), 2u);
    std::vector<std::string> seen;
    for (auto& batch : batches) {
      seen.push_back(test::text_of(batch));
      EXPECT_EQ(seen.back(), std::to_string(batch.from()) + "->" + std::to_string(to));
      workers[to]->cluster->acknowledge(batch.from(), test::data_of(batch).size());
    }
  }
  for (std::size_t from = 0; from < 3; ++from) {
    for (std::size_t to = 0; to < 3; ++to) {
      if (from != to) {
        EXPECT_TRUE(workers[from]->cluster->budget(to).wait_empty(5000ms));
      }
    }
  }
}

TEST(ClusterDataChannel, LargeBatchesArriveWhole) {
  auto workers = test::formed_cluster(2);
  ASSERT_EQ(workers.size(), 2u);
  std::vector<char> big(5 * 1024 * 1024);
  for (std::size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<char>(i * 7);
  }
  workers[0]->cluster->send(1, std::vector<char>(big));
  workers[0]->cluster->send(1, bytes_of("after"));
  auto batches = pop(*workers[1], 2);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_TRUE(test::data_of(batches[0]) == big);
  EXPECT_EQ(test::text_of(batches[1]), "after");
}

// The receiver's mailbox holds 4 batches and nobody drains it: the channel stops reading, the sender's budget stays
// charged; draining lets every batch through, in order.
TEST(ClusterDataChannel, FullMailboxStopsReadingUntilDrained) {
  auto workers = test::formed_cluster(2, 4);
  ASSERT_EQ(workers.size(), 2u);
  auto& sender = *workers[1];
  auto& receiver = *workers[0];
  constexpr std::size_t count = 500;
  for (std::size_t i = 0; i < count; ++i) {
    sender.cluster->send(0, bytes_of(payload(i)));
  }
  ASSERT_TRUE(wait_until([&] { return receiver.inbound.size() == 4; }));
  std::this_thread::sleep_for(100ms);  // give a broken channel the chance to overfill
  EXPECT_EQ(receiver.inbound.size(), 4u);
  EXPECT_EQ(sender.cluster->budget(0).in_flight(), total_bytes(count));
  std::vector<std::string> seen;
  while (seen.size() < count) {
    auto batch = receiver.inbound.pop_for(5000ms);
    ASSERT_TRUE(batch.has_value()) << seen.size();
    seen.push_back(test::text_of(*batch));
    receiver.cluster->acknowledge(batch->from(), test::data_of(*batch).size());
  }
  for (std::size_t i = 0; i < count; ++i) {
    ASSERT_EQ(seen[i], payload(i)) << i;
  }
  EXPECT_FALSE(receiver.inbound.pop_for(50ms).has_value());
  EXPECT_TRUE(sender.cluster->budget(0).wait_empty(5000ms));
}

TEST(ClusterDataChannel, SendingToItselfOrNowhereIsAnError) {
  auto workers = test::formed_cluster(2);
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_THROW(workers[0]->cluster->send(0, bytes_of("x")), core::Error);
  EXPECT_THROW(workers[0]->cluster->send(2, bytes_of("x")), core::Error);
  EXPECT_THROW((void)workers[0]->cluster->budget(5), core::Error);
}

}  // namespace
}  // namespace roo::cluster
