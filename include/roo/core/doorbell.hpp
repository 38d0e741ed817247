#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace roo::core {

/// Lets one consumer sleep until any of several producers has something for it (the Python executor waits on
/// its source mailbox and its remote-batch mailbox at once). Producers ring() after pushing; the consumer reads
/// rings() before looking for work and waits only if nothing rang since.
class Doorbell {
 public:
  void ring() {
    {
      std::lock_guard lock(mutex_);
      ++rings_;
    }
    rung_.notify_one();
  }

  [[nodiscard]] std::uint64_t rings() const {
    std::lock_guard lock(mutex_);
    return rings_;
  }

  /// Waits until rings() differs from `seen`, or `timeout` passes.
  void wait(std::uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    rung_.wait_for(lock, timeout, [&] { return rings_ != seen; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable rung_;
  std::uint64_t rings_ = 0;
};

}  // namespace roo::core
