#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace roo::core {

/// Network byte order, the one codec of every Roo socket protocol (cluster control and data frames, the external
/// channel, frame length headers, hops between workers). The loads and stores are one memcpy and a byte swap, so
/// the sources' and `roo send`'s framing may use them on their hot paths.

[[nodiscard]] inline std::uint16_t load_u16_be(const char* at) {
  std::uint16_t value = 0;
  std::memcpy(&value, at, sizeof value);
  return std::endian::native == std::endian::little ? __builtin_bswap16(value) : value;
}

[[nodiscard]] inline std::uint32_t load_u32_be(const char* at) {
  std::uint32_t value = 0;
  std::memcpy(&value, at, sizeof value);
  return std::endian::native == std::endian::little ? __builtin_bswap32(value) : value;
}

[[nodiscard]] inline std::uint64_t load_u64_be(const char* at) {
  std::uint64_t value = 0;
  std::memcpy(&value, at, sizeof value);
  return std::endian::native == std::endian::little ? __builtin_bswap64(value) : value;
}

inline void store_u16_be(char* at, std::uint16_t value) {
  if constexpr (std::endian::native == std::endian::little) {
    value = __builtin_bswap16(value);
  }
  std::memcpy(at, &value, sizeof value);
}

inline void store_u32_be(char* at, std::uint32_t value) {
  if constexpr (std::endian::native == std::endian::little) {
    value = __builtin_bswap32(value);
  }
  std::memcpy(at, &value, sizeof value);
}

inline void store_u64_be(char* at, std::uint64_t value) {
  if constexpr (std::endian::native == std::endian::little) {
    value = __builtin_bswap64(value);
  }
  std::memcpy(at, &value, sizeof value);
}

/// Builds a message body: big-endian integers and u32-length-prefixed byte strings, appended to one buffer.
/// Not thread-safe; one writer per message.
class BigEndianWriter {
 public:
  BigEndianWriter() = default;
  BigEndianWriter& u8(std::uint8_t value) {
    bytes_.push_back(static_cast<char>(value));
    return *this;
  }
  BigEndianWriter& u16(std::uint16_t value) { return fixed(value); }
  BigEndianWriter& u32(std::uint32_t value) { return fixed(value); }
  BigEndianWriter& u64(std::uint64_t value) { return fixed(value); }
  /// `u32 length | bytes`.
  BigEndianWriter& str(std::string_view value) {
    u32(static_cast<std::uint32_t>(value.size()));
    return raw(value);
  }
  /// The bytes as they are, without a length.
  BigEndianWriter& raw(std::string_view value) {
    bytes_.insert(bytes_.end(), value.begin(), value.end());
    return *this;
  }
  [[nodiscard]] std::size_t size() const { return bytes_.size(); }
  /// The message so far; the writer is empty afterwards.
  [[nodiscard]] std::vector<char> take() { return std::move(bytes_); }

 private:
  template <class T>
  BigEndianWriter& fixed(T value) {
    std::size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    if constexpr (sizeof(T) == 2) {
      store_u16_be(bytes_.data() + at, value);
    } else if constexpr (sizeof(T) == 4) {
      store_u32_be(bytes_.data() + at, value);
    } else {
      store_u64_be(bytes_.data() + at, value);
    }
    return *this;
  }

  std::vector<char> bytes_;
};

/// Reads what a BigEndianWriter wrote, from bytes it does not own. Every read fails softly: ok() turns false and
/// values read past the end are zero (strings empty), so a decoder reads everything and checks once. A string's
/// announced length is checked against the bytes present before anything is allocated.
class BigEndianReader {
 public:
  BigEndianReader(const char* data, std::size_t size) : data_(data), size_(size) {}
  explicit BigEndianReader(std::string_view bytes) : BigEndianReader(bytes.data(), bytes.size()) {}

  std::uint8_t u8() { return take(1) ? static_cast<std::uint8_t>(data_[pos_++]) : 0; }
  std::uint16_t u16() { return take(2) ? advance(load_u16_be(data_ + pos_), 2) : 0; }
  std::uint32_t u32() { return take(4) ? advance(load_u32_be(data_ + pos_), 4) : 0; }
  std::uint64_t u64() { return take(8) ? advance(load_u64_be(data_ + pos_), 8) : 0; }
  /// A `u32 length | bytes` string, as a view into the reader's bytes.
  std::string_view str_view() {
    std::uint32_t n = u32();
    return raw(n);
  }
  std::string str() { return std::string(str_view()); }
  /// The next `n` bytes as they are.
  std::string_view raw(std::size_t n) {
    if (!take(n)) {
      return {};
    }
    std::string_view out(data_ + pos_, n);
    pos_ += n;
    return out;
  }

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::size_t remaining() const { return ok_ ? size_ - pos_ : 0; }
  /// True when every read was in bounds and every byte was read.
  [[nodiscard]] bool ok_and_done() const { return ok_ && pos_ == size_; }

 private:
  [[nodiscard]] bool take(std::size_t n) {
    if (!ok_ || size_ - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  template <class T>
  T advance(T value, std::size_t n) {
    pos_ += n;
    return value;
  }

  const char* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace roo::core
