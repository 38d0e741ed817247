#pragma once

#include "roo/core/logging.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>

#include <cctype>
#include <memory>
#include <string>

namespace roo::cluster {

/// The "roo.cluster" logger, looked up once.
inline const std::shared_ptr<spdlog::logger>& cluster_logger() {
  static const std::shared_ptr<spdlog::logger> instance = core::module_logger("cluster");
  return instance;
}

/// An OS error as it appears in Roo's messages: lower-case first letter ("connection refused"); end of file
/// reads "the connection was closed".
inline std::string describe_error(const boost::system::error_code& error) {
  if (error == boost::asio::error::eof) {
    return "the connection was closed";
  }
  std::string text = error.message();
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

}  // namespace roo::cluster
