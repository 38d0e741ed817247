#pragma once

#include "roo/core/logging.hpp"

#include <boost/system/error_code.hpp>

#include <cctype>
#include <memory>
#include <string>

namespace roo::io {

/// The "roo.io" logger, looked up once.
inline const std::shared_ptr<spdlog::logger>& io_logger() {
  static const std::shared_ptr<spdlog::logger> instance = core::module_logger("io");
  return instance;
}

/// An OS error as it appears in Roo's messages: lower-case first letter ("connection refused").
inline std::string describe_error(const boost::system::error_code& error) {
  std::string text = error.message();
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

}  // namespace roo::io
