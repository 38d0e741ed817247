#pragma once

#include "roo/graph/window_spec.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace roo::window {

/// The late events of one window stage: counted, and told in one warn line that repeats at most every 10 s
/// ("range_windows over Counter: 12 late events dropped so far"). Lives on the Python executor.
class LateEvents {
 public:
  LateEvents(std::string label, graph::LatePolicy policy) : label_(std::move(label)), policy_(policy) {}

  /// One more late event.
  void count() {
    ++count_;
    auto now = std::chrono::steady_clock::now();
    if (now >= next_line_) {
      next_line_ = now + std::chrono::seconds(10);
      log_line();
    }
  }

  [[nodiscard]] std::uint64_t total() const { return count_; }

 private:
  void log_line() const;

  std::string label_;
  graph::LatePolicy policy_;
  std::uint64_t count_ = 0;
  std::chrono::steady_clock::time_point next_line_{};
};

}  // namespace roo::window
