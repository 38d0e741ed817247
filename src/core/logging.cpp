#include "roo/core/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace roo::core {
namespace {

std::mutex registry_mutex;
std::string current_pattern = "%Y-%m-%d %H:%M:%S.%e %L %n: %v";
spdlog::level::level_enum current_level = spdlog::level::info;

}  // namespace

std::shared_ptr<spdlog::logger> module_logger(std::string_view module) {
  std::string name = "roo." + std::string(module);
  std::lock_guard lock(registry_mutex);
  if (auto existing = spdlog::get(name)) {
    return existing;
  }
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_pattern(current_pattern);
  logger->set_level(current_level);
  return logger;
}

void configure_logging(std::string_view level, std::string_view worker_name) {
  std::lock_guard lock(registry_mutex);
  current_level = spdlog::level::from_str(std::string(level));
  current_pattern = "%Y-%m-%d %H:%M:%S.%e %L %n";
  if (!worker_name.empty()) {
    current_pattern += " " + std::string(worker_name);
  }
  current_pattern += ": %v";
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& logger) {
    logger->set_pattern(current_pattern);
    logger->set_level(current_level);
  });
}

}  // namespace roo::core
