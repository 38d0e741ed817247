#pragma once

#include <cstddef>
#include <string>

namespace roo::io::test {

/// Bytes as lower-case hex, as Python's `bytes.hex()` prints them: expected frames are written that way.
inline std::string hex(const std::string& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

/// The bytes of a hex string (pairs of digits).
inline std::string unhex(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out += static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16));
  }
  return out;
}

}  // namespace roo::io::test
