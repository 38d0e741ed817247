#include "roo/metrics/readable_units.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace roo::metrics {
namespace {

/// `value` in `unit` with one decimal below 10 and none from 10 up: "1.2 ms", "12 ms".
std::string scaled(double value, const char* unit) {
  char text[48];
  if (value < 9.95) {
    std::snprintf(text, sizeof text, "%.1f %s", value, unit);
  } else {
    std::snprintf(text, sizeof text, "%.0f %s", value, unit);
  }
  return text;
}

}  // namespace

std::string readable_count(std::uint64_t count) {
  std::string digits = std::to_string(count);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out.push_back(',');
    }
    out.push_back(digits[i]);
  }
  return out;
}

std::string readable_rate(double per_second) {
  if (per_second <= 0) {
    return "0";
  }
  if (per_second < 9.95) {
    char text[16];
    std::snprintf(text, sizeof text, "%.1f", per_second);
    return text;
  }
  return readable_count(static_cast<std::uint64_t>(std::llround(per_second)));
}

std::string readable_bytes(double bytes) {
  if (bytes < 1000) {
    return std::to_string(static_cast<std::uint64_t>(std::max(bytes, 0.0))) + " B";
  }
  constexpr std::array<const char*, 4> units = {"KB", "MB", "GB", "TB"};
  double value = bytes / 1000;
  std::size_t unit = 0;
  while (value >= 999.5 && unit + 1 < units.size()) {
    value /= 1000;
    ++unit;
  }
  return scaled(value, units[unit]);
}

std::string readable_latency(std::uint64_t ns) {
  if (ns < 1000) {
    return std::to_string(ns) + " ns";
  }
  double value = static_cast<double>(ns);
  if (value < 999.5e3) {
    return scaled(value / 1e3, "us");
  }
  if (value < 999.5e6) {
    return scaled(value / 1e6, "ms");
  }
  return scaled(value / 1e9, "s");
}

}  // namespace roo::metrics
