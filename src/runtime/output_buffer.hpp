#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

namespace roo::runtime {

/// Encoded output for one sink, filled event by event on the Python executor and handed over whole. Appending is
/// a bounds check and a memcpy into room made ahead (vector::insert and resize cost ~100 instructions per small
/// output, measured by bench/callgrind).
class OutputBuffer {
 public:
  static constexpr std::size_t initial_room = 64 * 1024;

  OutputBuffer() : bytes_(initial_room) {}

  void append(const char* data, std::size_t size) {
    if (bytes_.size() - used_ < size) {
      bytes_.resize(std::max(bytes_.size() * 2, used_ + size));
    }
    std::memcpy(bytes_.data() + used_, data, size);
    used_ += size;
  }

  [[nodiscard]] bool empty() const { return used_ == 0; }
  [[nodiscard]] std::size_t size() const { return used_; }
  [[nodiscard]] const char* data() const { return bytes_.data(); }

  /// A copy of the bytes so far (exactly), leaving this empty. The room stays: handing over often (every few
  /// events at low load) must not cost a fresh, zero-filled buffer each time.
  [[nodiscard]] std::vector<char> take() {
    std::vector<char> out(bytes_.data(), bytes_.data() + used_);
    used_ = 0;
    return out;
  }

 private:
  std::vector<char> bytes_;  ///< size() is the room; the first used_ bytes are output
  std::size_t used_ = 0;
};

}  // namespace roo::runtime
