#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace roo::core {

/// Payloads of complete frames from one source, back to back in one buffer, so that a source hands the
/// Python executor many events for the cost of one queue operation and no per-event allocation.
/// Batches are recycled through a BatchPool: clear() keeps the room.
struct FrameBatch {
  std::uint32_t source = 0;         ///< index of the source in the plan that produced these frames
  std::vector<char> bytes;          ///< room for payloads; the first payload_bytes() hold them back to back
  std::vector<std::uint32_t> ends;  ///< end offset in `bytes` of each payload

  [[nodiscard]] std::size_t size() const { return ends.size(); }
  [[nodiscard]] std::size_t payload_bytes() const { return ends.empty() ? 0 : ends.back(); }
  [[nodiscard]] bool empty() const { return ends.empty(); }
  [[nodiscard]] std::string_view frame(std::size_t i) const {
    std::uint32_t begin = i == 0 ? 0 : ends[i - 1];
    return {bytes.data() + begin, ends[i] - begin};
  }
  /// A bounds check and a memcpy (vector::insert's range path cost ~70 instructions per small frame).
  void append(const char* data, std::size_t n) {
    std::size_t at = payload_bytes();
    if (bytes.size() - at < n) {
      bytes.resize(std::max(bytes.size() * 2, at + n));
    }
    std::memcpy(bytes.data() + at, data, n);
    ends.push_back(static_cast<std::uint32_t>(at + n));
  }
  void clear() { ends.clear(); }
};

}  // namespace roo::core
