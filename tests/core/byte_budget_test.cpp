#include "roo/core/byte_budget.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace roo::core {
namespace {

using namespace std::chrono_literals;

TEST(ByteBudget, WaitsWhileOverTheLimitUntilTheConsumerReleases) {
  ByteBudget budget(100);
  budget.add(150);
  EXPECT_FALSE(budget.wait_below_limit(10ms));
  std::thread consumer([&] {
    std::this_thread::sleep_for(20ms);
    budget.release(60);
  });
  EXPECT_TRUE(budget.wait_below_limit(2000ms));
  consumer.join();
  EXPECT_EQ(budget.in_flight(), 90u);
  EXPECT_FALSE(budget.wait_empty(5ms));
  budget.release(90);
  EXPECT_TRUE(budget.wait_empty(0ms));
}

TEST(ByteBudget, NeverGoesBelowZero) {
  ByteBudget budget(10);
  budget.add(5);
  budget.release(8);
  EXPECT_EQ(budget.in_flight(), 0u);
}

}  // namespace
}  // namespace roo::core
