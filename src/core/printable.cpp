#include "roo/core/printable.hpp"

#include <algorithm>

namespace roo::core {

std::string printable(std::string_view text, std::size_t max_bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  std::size_t kept = std::min(text.size(), max_bytes);
  out.reserve(kept + 16);
  for (std::size_t i = 0; i < kept; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out.push_back(digits[c >> 4]);
          out.push_back(digits[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  if (kept < text.size()) {
    out += " ... (" + std::to_string(text.size() - kept) + " more bytes)";
  }
  return out;
}

}  // namespace roo::core
