#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace roo::core {

/// Text from a peer made safe for one log line: control characters (newlines included) become escapes ("\n",
/// "\r", "\t", "\x1b", ...), so a peer cannot forge log lines, and at most `max_bytes` of it are kept, followed by
/// " ... (N more bytes)". Any thread.
[[nodiscard]] std::string printable(std::string_view text, std::size_t max_bytes = 1024);

}  // namespace roo::core
