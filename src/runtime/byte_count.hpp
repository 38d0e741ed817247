#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <string>

namespace roo::runtime {

/// A size for a log line: "512 B", "42 KiB", "37 MiB" (rounded down).
[[nodiscard]] inline std::string byte_count(std::size_t bytes) {
  if (bytes < 10 * 1024) {
    return fmt::format("{} B", bytes);
  }
  if (bytes < 10 * 1024 * 1024) {
    return fmt::format("{} KiB", bytes / 1024);
  }
  return fmt::format("{} MiB", bytes / (1024 * 1024));
}

}  // namespace roo::runtime
