#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace roo::io {

/// How a listener paces itself after a failed accept (no descriptors left: EMFILE/ENFILE, or no memory): the next
/// attempt waits 10 ms, doubling up to 1 s, so a listener that cannot accept sleeps instead of spinning; a success
/// resets it. The caller logs once per failure streak (when on_failure() says it began one).
///
/// Small and on its own so that the core listener's backoff (being written for the cluster ports) can replace it.
/// Not thread-safe: lives on the listener's strand.
class AcceptBackoff {
 public:
  static constexpr std::chrono::milliseconds first_delay{10};
  static constexpr std::chrono::milliseconds max_delay{1000};

  /// An accept failed: the delay before the next attempt.
  [[nodiscard]] std::chrono::milliseconds on_failure() {
    ++failures_;
    delay_ = failures_ == 1 ? first_delay : std::min(delay_ * 2, max_delay);
    return delay_;
  }

  /// An accept succeeded: returns the failures of the streak it ends (0 if there was none).
  std::size_t on_success() {
    std::size_t streak = failures_;
    failures_ = 0;
    return streak;
  }

  /// True when the last on_failure() began a streak.
  [[nodiscard]] bool began_streak() const { return failures_ == 1; }

 private:
  std::size_t failures_ = 0;
  std::chrono::milliseconds delay_{0};
};

}  // namespace roo::io
