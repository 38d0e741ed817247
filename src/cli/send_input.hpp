#pragma once

#include "send_buffer.hpp"
#include "send_options.hpp"

#include "roo/core/big_endian.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace roo::cli {

/// Appends `size` bytes as lowercase hex (sent.txt's form of a binary payload).
void append_hex(SendBuffer& out, const char* bytes, std::size_t size);

/// Messages read from --file, already framed exactly as they go on the wire, back to back in one buffer.
/// Message i is wire()[offset(i), offset(i + 1)); its sent.txt payload starts log_skip() bytes in.
class FileMessages {
 public:
  /// Reads and frames every file in order. Throws core::UsageError for a missing or unreadable file and
  /// core::Error for contents that do not match the format (a record running past the end, a short record).
  static FileMessages load(const SendOptions& options);

  [[nodiscard]] std::uint64_t pass_length() const { return offsets_.size() - 1; }
  [[nodiscard]] const char* wire() const { return wire_.data(); }
  [[nodiscard]] std::uint64_t offset(std::uint64_t i) const { return offsets_[i]; }

  /// Appends the frame of message `index` (counted over the whole run; wraps around the input).
  void append_frame(std::uint64_t index, SendBuffer& out) const {
    std::uint64_t i = index % pass_length();
    out.append(wire_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  /// Appends message `index` as sent.txt shows it: text as is, binary as hex.
  void append_log_payload(std::uint64_t index, SendBuffer& out) const {
    std::uint64_t i = index % pass_length();
    const char* begin = wire_.data() + offsets_[i] + log_skip_;
    std::size_t size = offsets_[i + 1] - offsets_[i] - log_skip_;
    if (hex_) {
      append_hex(out, begin, size);
    } else {
      out.append(begin, size);
    }
  }

 private:
  std::vector<char> wire_;
  std::vector<std::uint64_t> offsets_{0};
  std::size_t log_skip_ = 4;
  bool hex_ = false;
};

/// Generated integer strings "start+1", "start+2", ..., each framed `u32 BE len | digits`.
class IntegerMessages {
 public:
  explicit IntegerMessages(std::uint64_t start_from) : start_(start_from + 1) {}

  [[nodiscard]] std::uint64_t pass_length() const { return 0; }
  void append_frame(std::uint64_t index, SendBuffer& out) const {
    char* at = out.prepare(4 + 20);
    auto end = std::to_chars(at + 4, at + 24, start_ + index).ptr;
    core::store_u32_be(at, static_cast<std::uint32_t>(end - at - 4));
    out.commit(static_cast<std::size_t>(end - at));
  }
  void append_log_payload(std::uint64_t index, SendBuffer& out) const {
    char* at = out.prepare(20);
    out.commit(static_cast<std::size_t>(std::to_chars(at, at + 20, start_ + index).ptr - at));
  }

 private:
  std::uint64_t start_;
};

/// Generated counter records `u32 BE (8 + len(partition)) | u64 BE value | partition`, values from start+1.
class CounterMessages {
 public:
  CounterMessages(std::uint64_t start_from, std::string partition);

  [[nodiscard]] std::uint64_t pass_length() const { return 0; }
  void append_frame(std::uint64_t index, SendBuffer& out) const {
    char* at = out.prepare(record_.size());
    std::memcpy(at, record_.data(), record_.size());
    put_value(at + 4, start_ + index);
    out.commit(record_.size());
  }
  void append_log_payload(std::uint64_t index, SendBuffer& out) const {
    char value[8];
    put_value(value, start_ + index);
    append_hex(out, value, 8);
    append_hex(out, record_.data() + 12, record_.size() - 12);
  }

 private:
  static void put_value(char* out, std::uint64_t value) {
    for (int i = 7; i >= 0; --i) {
      out[i] = static_cast<char>(value & 0xff);
      value >>= 8;
    }
  }
  std::uint64_t start_;
  std::string record_;  ///< header + 8 placeholder bytes + partition
};

}  // namespace roo::cli
