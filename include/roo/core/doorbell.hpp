#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <utility>

namespace roo::core {

/// Lets one consumer that sleeps in an event loop (the Python executor, in its data io_context) notice that a
/// producer on another thread has something for it: the cluster's remote batches, a stop request. Producers ring()
/// after pushing; the consumer reads rings() before looking for work and sleeps only if nothing rang since. The
/// waker is what ends the sleep: the worker's posts a no-op handler to the loop the consumer sleeps in.
class Doorbell {
 public:
  /// `wake` runs on every ring(), on the ringing thread: thread-safe, non-blocking. Set before producers start.
  void set_waker(std::function<void()> wake) { wake_ = std::move(wake); }

  void ring() {
    rings_.fetch_add(1, std::memory_order_acq_rel);
    if (wake_) {
      wake_();
    }
  }

  [[nodiscard]] std::uint64_t rings() const { return rings_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::uint64_t> rings_{0};
  std::function<void()> wake_;
};

}  // namespace roo::core
