#include "roo/core/bounded_mailbox.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace roo::core {
namespace {

using namespace std::chrono_literals;

TEST(BoundedMailbox, RefusesWhenFullAndCallsBackOnceThereIsRoom) {
  BoundedMailbox<int> mailbox(2);
  int woken = 0;
  int a = 1, b = 2, c = 3;
  EXPECT_EQ(mailbox.try_push(a, [] {}), PushResult::accepted);
  EXPECT_EQ(mailbox.try_push(b, [] {}), PushResult::accepted);
  EXPECT_EQ(mailbox.try_push(c, [&] { ++woken; }), PushResult::full);
  EXPECT_EQ(c, 3) << "a refused item stays with the producer";
  EXPECT_EQ(woken, 0);
  EXPECT_EQ(mailbox.try_pop(), 1);
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(mailbox.try_push(c, [] {}), PushResult::accepted);
  EXPECT_EQ(mailbox.try_pop(), 2);
  EXPECT_EQ(mailbox.try_pop(), 3);
  EXPECT_EQ(mailbox.try_pop(), std::nullopt);
  EXPECT_EQ(woken, 1) << "each callback runs once";
}

TEST(BoundedMailbox, CallsBackTheLongestWaitingProducerFirstSoNoneIsStarved) {
  BoundedMailbox<int> mailbox(1);
  std::vector<std::string> woken;
  int a1 = 1, b1 = 2, a2 = 3;
  EXPECT_EQ(mailbox.try_push(a1, [] {}), PushResult::accepted);
  EXPECT_EQ(mailbox.try_push(b1, [&] { woken.push_back("b"); }), PushResult::full);
  EXPECT_EQ(mailbox.try_push(a2, [&] { woken.push_back("a"); }), PushResult::full);
  EXPECT_EQ(mailbox.try_pop(), 1);
  EXPECT_EQ(woken, (std::vector<std::string>{"b"})) << "one slot freed: one producer called, the first in line";
  EXPECT_EQ(mailbox.try_push(b1, [] {}), PushResult::accepted);
  EXPECT_EQ(mailbox.try_pop(), 2);
  EXPECT_EQ(woken, (std::vector<std::string>{"b", "a"}));
}

TEST(BoundedMailbox, WakesTheRestWhenACalledBackProducerDoesNotPush) {
  BoundedMailbox<int> mailbox(1);
  int woken_b = 0;
  int a = 1, b = 2, c = 3;
  EXPECT_EQ(mailbox.try_push(a, [] {}), PushResult::accepted);
  // This producer will never push again (its connection closed).
  EXPECT_EQ(mailbox.try_push(c, [] {}), PushResult::full);
  EXPECT_EQ(mailbox.try_push(b, [&] { ++woken_b; }), PushResult::full);
  EXPECT_EQ(mailbox.try_pop(), 1);
  EXPECT_EQ(woken_b, 0);
  EXPECT_EQ(mailbox.try_pop(), std::nullopt);  // empty while a producer waits: nobody may sleep forever
  EXPECT_EQ(woken_b, 1);
}

TEST(BoundedMailbox, DrainsAfterCloseAndRefusesNewItems) {
  BoundedMailbox<int> mailbox(4);
  int a = 7, b = 8;
  EXPECT_EQ(mailbox.try_push(a, [] {}), PushResult::accepted);
  mailbox.close();
  EXPECT_EQ(mailbox.try_push(b, [] { FAIL() << "no callback after close"; }), PushResult::closed);
  EXPECT_EQ(mailbox.try_pop(), 7);
  EXPECT_EQ(mailbox.pop_for(10ms), std::nullopt);
}

TEST(BoundedMailbox, DeliversEveryItemOfManyProducersExactlyOnceInEachProducersOrder) {
  constexpr int producers = 4;
  constexpr int per_producer = 20000;
  BoundedMailbox<int> mailbox(8);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        int item = p * per_producer + i;
        std::atomic<bool> room{false};
        while (mailbox.try_push(item, [&] { room = true; }) != PushResult::accepted) {
          while (!room) {
            std::this_thread::yield();
          }
          room = false;
        }
      }
    });
  }
  std::vector<int> last(producers, -1);
  int received = 0;
  while (received < producers * per_producer) {
    auto item = mailbox.pop_for(1000ms);
    ASSERT_TRUE(item.has_value());
    int producer = *item / per_producer;
    ASSERT_GT(*item, last[producer]);
    last[producer] = *item;
    ++received;
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(mailbox.size(), 0u);
}

}  // namespace
}  // namespace roo::core
