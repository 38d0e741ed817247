#include "roo/core/printable.hpp"

#include <algorithm>

namespace roo::core {
namespace {

/// Appends `text` with "\n", "\r", "\t" and "\\" escaped, and other control characters and DEL as "\xNN".
void append_escaped(std::string& out, std::string_view text) {
  static constexpr char digits[] = "0123456789abcdef";
  for (char raw : text) {
    auto c = static_cast<unsigned char>(raw);
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
          out.push_back(raw);
        }
    }
  }
}

}  // namespace

std::string printable(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::size_t kept = std::min(text.size(), max_bytes);
  out.reserve(kept + 16);
  append_escaped(out, text.substr(0, kept));
  if (kept < text.size()) {
    out += " ... (" + std::to_string(text.size() - kept) + " more bytes)";
  }
  return out;
}

}  // namespace roo::core
