#pragma once

#include <cctype>
#include <cstring>
#include <string>

namespace roo::cli {

/// strerror(error) in the CLI's lower-case style: "connection refused", "no such file or directory".
inline std::string errno_text(int error) {
  std::string text = std::strerror(error);
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

}  // namespace roo::cli
