#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace roo::core {

/// Counts bytes handed to a slower consumer (a sink) and not yet done with, so the producer (the Python
/// executor) can wait before making more. This is the sink end of backpressure: the executor waits here,
/// stops draining its mailbox, and the sources' reads stop. Thread-safe; locks once per batch.
class ByteBudget {
 public:
  explicit ByteBudget(std::size_t limit) : limit_(limit) {}

  /// The producer handed `n` more bytes over.
  void add(std::size_t n) {
    std::lock_guard lock(mutex_);
    in_flight_ += n;
  }

  /// The consumer finished with `n` bytes (written, or given up on); wakes a waiting producer.
  void release(std::size_t n) {
    {
      std::lock_guard lock(mutex_);
      in_flight_ = n > in_flight_ ? 0 : in_flight_ - n;
    }
    changed_.notify_all();
  }

  /// Blocks until fewer than `limit` bytes are in flight, or `timeout` passes. Returns true when below.
  [[nodiscard]] bool wait_below_limit(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return in_flight_ < limit_; });
  }

  /// Blocks until nothing is in flight, or `timeout` passes. Returns true when empty.
  [[nodiscard]] bool wait_empty(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return in_flight_ == 0; });
  }

  [[nodiscard]] std::size_t in_flight() const {
    std::lock_guard lock(mutex_);
    return in_flight_;
  }
  [[nodiscard]] std::size_t limit() const { return limit_; }

 private:
  std::size_t limit_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t in_flight_ = 0;
};

}  // namespace roo::core
