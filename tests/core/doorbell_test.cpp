#include "roo/core/doorbell.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace roo::core {
namespace {

TEST(Doorbell, CountsRingsAndCallsTheWakerOnTheRingingThread) {
  Doorbell doorbell;
  std::atomic<int> wakes{0};
  std::thread::id waker_thread;
  doorbell.set_waker([&] {
    waker_thread = std::this_thread::get_id();
    ++wakes;
  });
  std::uint64_t seen = doorbell.rings();
  std::thread producer([&] { doorbell.ring(); });
  std::thread::id producer_id = producer.get_id();
  producer.join();
  EXPECT_NE(doorbell.rings(), seen) << "a ring after rings() was read must be visible to the consumer";
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(waker_thread, producer_id);
  doorbell.ring();
  EXPECT_EQ(doorbell.rings(), seen + 2);
  EXPECT_EQ(wakes, 2);
}

TEST(Doorbell, RingsWithoutAWaker) {
  Doorbell doorbell;
  doorbell.ring();
  doorbell.ring();
  EXPECT_EQ(doorbell.rings(), 2U);
}

}  // namespace
}  // namespace roo::core
