#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
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

  /// Inlined into the runner's emit (a call cost ~20 instructions of register saving per output); growing is not.
  [[gnu::always_inline]] void append(const char* data, std::size_t size) {
    if (bytes_.size() - used_ < size) [[unlikely]] {
      grow(size);
    }
    char* at = bytes_.data() + used_;
    if (size <= small) {
      // Most outputs are a short line: fixed-size copies the compiler inlines instead of a call into libc's memcpy.
      copy_short(at, data, size);
    } else {
      std::memcpy(at, data, size);
    }
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
  static constexpr std::size_t small = 16;

  [[gnu::noinline]] void grow(std::size_t size) { bytes_.resize(std::max(bytes_.size() * 2, used_ + size)); }

  /// Copies size <= 16 bytes with two fixed-size moves that may overlap each other, never past `size`.
  static void copy_short(char* to, const char* from, std::size_t size) {
    if (size >= 8) {
      copy_ends<std::uint64_t>(to, from, size);
    } else if (size >= 4) {
      copy_ends<std::uint32_t>(to, from, size);
    } else {
      for (std::size_t i = 0; i < size; ++i) {
        to[i] = from[i];
      }
    }
  }

  /// The first and the last sizeof(Word) bytes of from[0, size), for sizeof(Word) <= size <= 2 * sizeof(Word).
  template <class Word>
  static void copy_ends(char* to, const char* from, std::size_t size) {
    Word head = 0;
    Word tail = 0;
    std::memcpy(&head, from, sizeof(Word));
    std::memcpy(&tail, from + size - sizeof(Word), sizeof(Word));
    std::memcpy(to, &head, sizeof(Word));
    std::memcpy(to + size - sizeof(Word), &tail, sizeof(Word));
  }

  std::vector<char> bytes_;  ///< size() is the room; the first used_ bytes are output
  std::size_t used_ = 0;
};

}  // namespace roo::runtime
