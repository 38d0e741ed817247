#pragma once

#include <string>
#include <string_view>

namespace roo::core {

/// Which escapes append_escaped writes besides the common ones.
enum class EscapeStyle {
  log_line,     ///< other control characters and DEL as "\xNN"; quotes as they are
  json_string,  ///< other control characters as "\u00NN"; '"' as "\""
};

/// Appends `text` to `out` with backslash escapes: "\n", "\r", "\t" and "\\" in both styles, the rest by `style`.
/// The one escaping routine behind printable() and json_quote(). Any thread.
void append_escaped(std::string& out, std::string_view text, EscapeStyle style);

}  // namespace roo::core
