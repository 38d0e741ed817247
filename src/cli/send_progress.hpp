#pragma once

#include <cstdint>
#include <ctime>

namespace roo::cli {

/// The live "count, rate, ETA" line of `roo send`. It draws only when stderr is a terminal, at most 4 times a second.
class SendProgress {
 public:
  /// `total` is the number of messages to send, or 0 when the run has no end.
  explicit SendProgress(std::uint64_t total);

  void update(std::uint64_t sent) {
    if (enabled_) {
      maybe_draw(sent);
    }
  }
  /// Erases the line, so the summary starts on a clean line.
  void finish();

 private:
  void maybe_draw(std::uint64_t sent);
  bool enabled_ = false;
  bool drawn_ = false;
  std::uint64_t total_ = 0;
  double start_s_ = 0;
  double last_draw_s_ = 0;
};

/// Seconds on CLOCK_MONOTONIC.
double monotonic_seconds();

}  // namespace roo::cli
