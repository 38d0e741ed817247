#include "escape.hpp"

namespace roo::core {

void append_escaped(std::string& out, std::string_view text, EscapeStyle style) {
  static constexpr char digits[] = "0123456789abcdef";
  const bool json = style == EscapeStyle::json_string;
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
        if (json && c == '"') {
          out += "\\\"";
        } else if (c < 0x20 || (!json && c == 0x7f)) {
          out += json ? "\\u00" : "\\x";
          out.push_back(digits[c >> 4]);
          out.push_back(digits[c & 0xf]);
        } else {
          out.push_back(raw);
        }
    }
  }
}

}  // namespace roo::core
