#pragma once

#include "roo/core/doorbell.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace roo::core {

/// What a push did with its item: took it, or refused it because the mailbox is full (the producer's `on_room` is
/// kept and will be called) or closed (nothing will ever be called back: the producer stops).
enum class PushResult { accepted, full, closed };

/// A bounded multi-producer, single-consumer queue: the mailbox of an actor served by its own thread
/// (the Python executor). Producers never block: try_push() refuses when full and remembers a callback
/// that runs once, on the consumer's thread, when room frees up. That callback is how backpressure
/// reaches a source: it stops reading until called, and it must only post work to the source's own
/// executor. One lock operation per item; items are batches, not events.
template <class T>
class BoundedMailbox {
 public:
  explicit BoundedMailbox(std::size_t capacity) : slots_(capacity) {}

  /// Moves `item` in (accepted) when there is room. When full, leaves `item` untouched and keeps `on_room` (full).
  /// After close(), refuses without keeping the callback (closed).
  [[nodiscard]] PushResult try_push(T& item, std::function<void()> on_room) {
    std::function<void()> next;
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
        return PushResult::closed;
      }
      if (count_ == slots_.size()) {
        if (waiters_.empty()) {
          paused_since_ = std::chrono::steady_clock::now();
        }
        waiters_.push_back(std::move(on_room));
        return PushResult::full;
      }
      slots_[(head_ + count_) % slots_.size()] = std::move(item);
      ++count_;
      next = next_waiter_if_room();
    }
    ready_.notify_one();
    if (doorbell_ != nullptr) {
      doorbell_->ring();
    }
    if (next) {
      next();
    }
    return PushResult::accepted;
  }

  /// The next item if there is one, without ever sleeping. (A condition-variable wait with a zero timeout still
  /// enters the kernel and gives up the core; getting it back took up to 2 ms on a busy machine.)
  [[nodiscard]] std::optional<T> try_pop() { return pop_for(std::chrono::milliseconds(0)); }

  /// Waits up to `timeout` for an item. Returns nullopt on timeout, or when closed and drained.
  [[nodiscard]] std::optional<T> pop_for(std::chrono::milliseconds timeout) {
    std::vector<std::function<void()>> to_wake;
    std::optional<T> item;
    {
      std::unique_lock lock(mutex_);
      auto has_item = [&] { return count_ > 0 || closed_; };
      bool ready = timeout.count() > 0 ? ready_.wait_for(lock, timeout, has_item) : has_item();
      if (!ready || count_ == 0) {
        // Nothing queued yet producers wait: a woken producer that did not push must not leave the rest asleep.
        end_pause();
        to_wake.swap(waiters_);
        lock.unlock();
        for (auto& wake : to_wake) {
          wake();
        }
        return std::nullopt;
      }
      item.emplace(std::move(*slots_[head_]));
      slots_[head_].reset();
      head_ = (head_ + 1) % slots_.size();
      --count_;
      if (auto next = next_waiter_if_room()) {
        to_wake.push_back(std::move(next));
      }
    }
    for (auto& wake : to_wake) {
      wake();
    }
    return item;
  }

  /// Also rings `doorbell` on every accepted push (set before producers start).
  void set_doorbell(Doorbell* doorbell) { doorbell_ = doorbell; }

  /// True once close() was called: a refused push will then never be called back.
  [[nodiscard]] bool is_closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

  /// Wakes the consumer without an item (used to make it look at other work, such as a stop request).
  void nudge() {
    ready_.notify_all();
    if (doorbell_ != nullptr) {
      doorbell_->ring();
    }
  }

  /// Refuses further items; the consumer still drains what is queued.
  void close() {
    std::vector<std::function<void()>> to_wake;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      end_pause();
      to_wake.swap(waiters_);
    }
    ready_.notify_all();
    for (auto& wake : to_wake) {
      wake();  // they find the mailbox closed
    }
  }

  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mutex_);
    return count_;
  }

  /// How long producers have waited for room, in all (backpressure: the time some source was paused). Any thread.
  [[nodiscard]] std::chrono::nanoseconds paused() const {
    std::lock_guard lock(mutex_);
    return waiters_.empty() ? paused_ : paused_ + (std::chrono::steady_clock::now() - paused_since_);
  }

 private:
  /// One slot frees up, one producer is called back: the one that has waited longest. Waking them all let the
  /// first one called take the slot and queue again ahead of the rest, so one connection could starve another.
  /// The callback re-pushes and, if room remains, wakes the next in line. Called with mutex_ held.
  std::function<void()> next_waiter_if_room() {
    if (waiters_.empty() || count_ == slots_.size()) {
      return {};
    }
    std::function<void()> next = std::move(waiters_.front());
    if (waiters_.size() == 1) {
      end_pause();
    }
    waiters_.erase(waiters_.begin());
    return next;
  }

  /// Every waiter is about to be called back: their wait ends. Called with mutex_ held.
  void end_pause() {
    if (!waiters_.empty()) {
      paused_ += std::chrono::steady_clock::now() - paused_since_;
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<std::optional<T>> slots_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  bool closed_ = false;
  std::vector<std::function<void()>> waiters_;
  std::chrono::steady_clock::time_point paused_since_{};  ///< when waiters_ last became non-empty
  std::chrono::nanoseconds paused_{0};                     ///< producers' waits that ended
  Doorbell* doorbell_ = nullptr;
};

}  // namespace roo::core
