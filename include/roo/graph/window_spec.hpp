#pragma once

#include <cstdint>
#include <limits>

namespace roo::graph {

/// Event time: nanoseconds since the Unix epoch (Wallaroo's unit for window ranges, `wallaroo.seconds(x)` etc.).
using EventTime = std::int64_t;
/// "Every window may fire": the watermark of an input that ended (a generator returned None) or of a worker that
/// has no input for a source at all.
constexpr EventTime end_of_time = std::numeric_limits<EventTime>::max();
/// "Nothing may fire yet".
constexpr EventTime start_of_time = std::numeric_limits<EventTime>::min();

/// What happens to an event that arrives after every window it belongs to has fired (spec §1.3.4).
enum class LatePolicy {
  drop,                    ///< counted and dropped
  fire_per_message,        ///< a fresh accumulator with just this event is output at once
  place_in_oldest_window,  ///< added to the key's oldest window that has not fired (a fresh one if it has none)
};

/// One window stage: what `range_windows`, `count_windows` or `session_windows` built (docs/windows.md).
struct WindowSpec {
  enum class Kind { range, count, session };
  Kind kind = Kind::range;
  EventTime range = 0;   ///< range: the window's length (> 0)
  EventTime slide = 0;   ///< range: the distance between window starts (0 < slide <= range; == range: tumbling)
  EventTime delay = 0;   ///< range, session: how long past its end a window waits for late events (>= 0)
  EventTime gap = 0;     ///< session: a key's session ends `gap` after its last event (> 0)
  std::uint64_t count = 0;  ///< count: events per window (> 0)
  /// count: a partial window (at least one event) is output this long after its first event, by wall clock
  /// (Wallaroo: 5 s).
  std::int64_t count_timeout_ns = 5'000'000'000;
  LatePolicy late_policy = LatePolicy::drop;
};

/// How a source's events get their time and how its watermark moves (docs/windows.md, "Event time").
struct EventTimeSpec {
  /// Idleness: an input (a TCP connection, a Kafka partition, a generator) that has delivered nothing for this long
  /// (and, for Kafka, has reached the end of its partition) no longer holds the watermark back.
  std::int64_t idleness_ns = 2'000'000'000;
  /// An event stamped more than this ahead of the wall clock does not move the watermark (it is still placed in
  /// its windows). <= 0: no cap.
  std::int64_t max_ahead_ns = 10'000'000'000;
};

}  // namespace roo::graph
