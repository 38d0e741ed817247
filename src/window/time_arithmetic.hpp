#pragma once

#include "roo/graph/window_spec.hpp"

#include <algorithm>

namespace roo::window {

using graph::EventTime;
using graph::end_of_time;
using graph::start_of_time;

/// Event-time arithmetic that saturates at start_of_time/end_of_time instead of overflowing: watermarks start at
/// start_of_time and a finished source's is end_of_time, and windows are aligned to the epoch, so sums near both
/// ends happen in normal runs.
[[nodiscard]] inline EventTime saturating_add(EventTime a, EventTime b) {
  EventTime sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? end_of_time : start_of_time;
  }
  return sum;
}

[[nodiscard]] inline EventTime saturating_sub(EventTime a, EventTime b) {
  EventTime difference = 0;
  if (__builtin_sub_overflow(a, b, &difference)) {
    return b > 0 ? start_of_time : end_of_time;
  }
  return difference;
}

/// The largest multiple of `step` (> 0) at or below `t`: floor division, also for negative times.
[[nodiscard]] inline EventTime align_down(EventTime t, EventTime step) {
  EventTime quotient = t / step;
  if (t % step != 0 && t < 0) {
    --quotient;
  }
  EventTime aligned = 0;
  if (__builtin_mul_overflow(quotient, step, &aligned)) {
    return start_of_time;
  }
  return aligned;
}

}  // namespace roo::window
