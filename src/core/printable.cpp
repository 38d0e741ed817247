#include "roo/core/printable.hpp"

#include "escape.hpp"

#include <algorithm>

namespace roo::core {

std::string printable(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::size_t kept = std::min(text.size(), max_bytes);
  out.reserve(kept + 16);
  append_escaped(out, text.substr(0, kept), EscapeStyle::log_line);
  if (kept < text.size()) {
    out += " ... (" + std::to_string(text.size() - kept) + " more bytes)";
  }
  return out;
}

}  // namespace roo::core
