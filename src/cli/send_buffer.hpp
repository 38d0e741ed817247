#pragma once

#include <cstddef>
#include <cstring>
#include <memory>

namespace roo::cli {

/// A growable byte buffer that keeps its storage between uses, so a send loop stops allocating once warm.
class SendBuffer {
 public:
  SendBuffer() = default;
  SendBuffer(SendBuffer&&) noexcept = default;
  SendBuffer& operator=(SendBuffer&&) noexcept = default;

  [[nodiscard]] const char* data() const { return data_.get(); }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }

  /// Makes room for `n` more bytes and returns where they go; commit them with `commit(n)`.
  char* prepare(std::size_t n) {
    if (size_ + n > capacity_) {
      grow(size_ + n);
    }
    return data_.get() + size_;
  }
  void commit(std::size_t n) { size_ += n; }

  void append(const char* bytes, std::size_t n) {
    std::memcpy(prepare(n), bytes, n);
    size_ += n;
  }
  void push_back(char c) {
    *prepare(1) = c;
    ++size_;
  }

 private:
  void grow(std::size_t needed) {
    std::size_t capacity = capacity_ ? capacity_ : 4096;
    while (capacity < needed) {
      capacity *= 2;
    }
    auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
    if (size_ != 0) {
      std::memcpy(bigger.get(), data_.get(), size_);
    }
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace roo::cli
