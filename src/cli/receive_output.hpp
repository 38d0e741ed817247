#pragma once

#include <cstddef>
#include <cstring>
#include <memory>

namespace roo::cli {

/// `roo receive`'s stdout: a large buffer written out in big chunks. The receive loop flushes it when idle,
/// when it fills, at least every 100 ms under load, and at exit.
class ReceiveOutput {
 public:
  ReceiveOutput(int fd, std::size_t capacity);

  void append(const char* bytes, std::size_t size) {
    if (size > capacity_ - size_) {
      flush();
      if (size >= capacity_) {
        write_out(bytes, size);
        return;
      }
    }
    std::memcpy(buffer_.get() + size_, bytes, size);
    size_ += size;
  }
  void append_newline() {
    if (size_ == capacity_) {
      flush();
    }
    buffer_[size_++] = '\n';
  }
  [[nodiscard]] bool pending() const { return size_ != 0; }

  /// Writes out everything buffered. Throws core::Error if stdout is gone.
  void flush() {
    if (size_ != 0) {
      write_out(buffer_.get(), size_);
      size_ = 0;
    }
  }

 private:
  void write_out(const char* bytes, std::size_t size);
  int fd_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_;
  std::size_t size_ = 0;
};

}  // namespace roo::cli
