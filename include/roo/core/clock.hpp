#pragma once

#include <chrono>
#include <cstdint>

namespace roo::core {

/// The steady clock in ns (a vDSO call, about 20 ns): for durations (metrics' latencies).
[[nodiscard]] inline std::int64_t steady_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// The wall clock in ns since the epoch: event time, and the time metrics are stamped with.
[[nodiscard]] inline std::int64_t wall_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace roo::core
