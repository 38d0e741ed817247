#pragma once

#include <cstdint>
#include <string>

namespace roo::metrics {

// Numbers as people read them, for the activity log line and `roo ctl metrics` / `roo top` (ASCII only: log files
// and terminals of every kind). Any thread.

/// 1234567 -> "1,234,567".
[[nodiscard]] std::string readable_count(std::uint64_t count);
/// Events per second: "1,203,455" from 10 up, "2.5" below (so that a trickle does not read as none).
[[nodiscard]] std::string readable_rate(double per_second);
/// 0 -> "0 B", 12345 -> "12 KB", 3.4e6 -> "3.4 MB" (powers of 1000, two significant digits below 10).
[[nodiscard]] std::string readable_bytes(double bytes);
/// A latency in ns: "850 ns", "12 us", "1.2 ms", "3.4 s" (two significant digits below 10).
[[nodiscard]] std::string readable_latency(std::uint64_t ns);

}  // namespace roo::metrics
