#pragma once

#include "roo/core/append_bytes.hpp"

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace roo::core {

/// Payloads of complete frames from one source, back to back in one buffer, so that a source hands the
/// Python executor many events for the cost of one queue operation and no per-event allocation.
/// Batches are recycled through a BatchPool: clear() keeps the capacity.
struct FrameBatch {
  std::uint32_t source = 0;         ///< index of the source in the plan that produced these frames
  std::vector<char> bytes;          ///< payloads, back to back (headers stripped)
  std::vector<std::uint32_t> ends;  ///< end offset in `bytes` of each payload

  [[nodiscard]] std::size_t size() const { return ends.size(); }
  [[nodiscard]] bool empty() const { return ends.empty(); }
  [[nodiscard]] std::string_view frame(std::size_t i) const {
    std::uint32_t begin = i == 0 ? 0 : ends[i - 1];
    return {bytes.data() + begin, ends[i] - begin};
  }
  void append(const char* data, std::size_t n) {
    append_bytes(bytes, data, n);
    ends.push_back(static_cast<std::uint32_t>(bytes.size()));
  }
  void clear() {
    bytes.clear();
    ends.clear();
  }
};

}  // namespace roo::core
