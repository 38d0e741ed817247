#pragma once

#include "send_buffer.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace roo::cli {

/// sent.txt: one line per message, `<wallclock_ns>, <payload>`. Lines are built in a large buffer and written
/// in big chunks; a batch shares the timestamp taken just before its write.
class SentLog {
 public:
  /// Creates (truncates) `path`. Throws core::Error if it cannot.
  explicit SentLog(std::string path);
  SentLog(const SentLog&) = delete;
  SentLog& operator=(const SentLog&) = delete;
  ~SentLog();

  /// Starts a batch stamped `wallclock_ns`; then call `begin_line`, append the payload to `line_buffer()`,
  /// and `end_line` for each message.
  void start_batch(std::uint64_t wallclock_ns);
  void begin_line() { buffer_.append(stamp_, stamp_size_); }
  [[nodiscard]] SendBuffer& line_buffer() { return buffer_; }
  void end_line() {
    buffer_.push_back('\n');
    if (buffer_.size() >= flush_threshold) {
      flush();
    }
  }

  /// Writes out what is buffered. Throws core::Error on a write failure.
  void flush();

 private:
  static constexpr std::size_t flush_threshold = 1 << 20;
  std::string path_;
  std::FILE* file_ = nullptr;
  SendBuffer buffer_;
  char stamp_[24] = {};
  std::size_t stamp_size_ = 0;
};

}  // namespace roo::cli
