#include "flag_values.hpp"

#include "roo/core/endpoint.hpp"

#include "roo/core/error.hpp"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>

namespace roo::cli {
namespace {

[[noreturn]] void refuse(const std::string& flag, const std::string& value, const std::string& expected) {
  throw core::UsageError("parse " + flag + " '" + value + "': expected " + expected);
}

}  // namespace

int parse_count(const std::string& flag, const std::string& value) {
  int count = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), count);
  if (ec != std::errc() || end != value.data() + value.size() || count < 1) {
    refuse(flag, value, "a whole number of at least 1");
  }
  return count;
}

double parse_seconds(const std::string& flag, const std::string& value, bool zero_allowed) {
  double seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(seconds) || seconds < 0 ||
      (seconds == 0 && !zero_allowed)) {
    refuse(flag, value, zero_allowed ? "a number of seconds, 0 or more" : "a number of seconds above 0");
  }
  return seconds;
}

long long parse_duration_ms(const std::string& flag, const std::string& value) {
  double number = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  std::string_view unit(end, static_cast<std::size_t>(value.data() + value.size() - end));
  double scale = unit == "ms" ? 1 : unit == "s" || unit.empty() ? 1000 : unit == "m" ? 60000 : 0;
  double milliseconds = number * scale;
  if (ec != std::errc() || scale == 0 || !std::isfinite(milliseconds) || milliseconds < 1) {
    refuse(flag, value, "a duration of at least 1ms, e.g. 1s, 500ms, 2m");
  }
  return static_cast<long long>(milliseconds);
}

long long parse_nanoseconds(const std::string& flag, const std::string& value) {
  long long nanoseconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), nanoseconds);
  if (ec != std::errc() || end != value.data() + value.size() || nanoseconds < 1000000) {
    refuse(flag, value, "a whole number of nanoseconds, at least 1000000 (1 ms)");
  }
  return nanoseconds;
}

CLI::Validator duration_value(const std::string& flag) {
  return {[flag](std::string& value) {
            (void)parse_duration_ms(flag, value);
            return std::string();
          },
          ""};
}

CLI::Validator count_value(const std::string& flag) {
  return {[flag](std::string& value) {
            (void)parse_count(flag, value);
            return std::string();
          },
          ""};
}

CLI::Validator endpoint_value(const std::string& flag) {
  return {[flag](std::string& value) {
            (void)core::parse_endpoint(value, flag);
            return std::string();
          },
          ""};
}

CLI::Validator seconds_value(const std::string& flag, bool zero_allowed) {
  return {[flag, zero_allowed](std::string& value) {
            (void)parse_seconds(flag, value, zero_allowed);
            return std::string();
          },
          ""};
}

CLI::Validator one_of(const std::string& flag, const std::vector<std::string>& choices) {
  std::string listed;
  for (const auto& choice : choices) {
    listed += (listed.empty() ? "" : ", ") + choice;
  }
  return {[flag, choices, listed](std::string& value) {
            for (const auto& choice : choices) {
              if (value == choice) {
                return std::string();
              }
            }
            refuse(flag, value, "one of " + listed);
          },
          "{" + listed + "}"};
}

}  // namespace roo::cli
