#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace roo::core {

/// The logger of one module, named "roo.<module>", writing to stderr. Thread-safe; cheap to call repeatedly
/// (keep the pointer in a static local on paths that log often).
[[nodiscard]] std::shared_ptr<spdlog::logger> module_logger(std::string_view module);

/// Sets the level of every Roo logger ("trace".."off") and the worker name shown on each line.
void configure_logging(std::string_view level, std::string_view worker_name);

}  // namespace roo::core
