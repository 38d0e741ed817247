#pragma once

#include "roo/core/byte_stream.hpp"
#include "roo/core/logging.hpp"

#include <memory>
#include <string>

namespace roo::cluster {

/// The "roo.cluster" logger, looked up once.
inline const std::shared_ptr<spdlog::logger>& cluster_logger() {
  static const std::shared_ptr<spdlog::logger> instance = core::module_logger("cluster");
  return instance;
}

using core::describe_error;

}  // namespace roo::cluster
