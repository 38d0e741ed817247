#include "stuck_step_flag.hpp"

#include "roo/core/error.hpp"

#include <cstdlib>

namespace roo::cli {
namespace {

constexpr const char* flag = "--stuck-step-warning";

double parse_seconds(const std::string& text) {
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || !(value > 0)) {
    throw core::UsageError(std::string("parse ") + flag + " '" + text + "': expected a number of seconds above 0");
  }
  return value;
}

}  // namespace

void take_stuck_step_warning(std::vector<std::string>& args, double& seconds) {
  const std::string prefix = std::string(flag) + "=";
  for (std::size_t i = 0; i < args.size();) {
    if (args[i] == flag) {
      if (i + 1 >= args.size()) {
        throw core::UsageError(std::string("parse ") + flag + ": the flag needs a value");
      }
      seconds = parse_seconds(args[i + 1]);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
    } else if (args[i].starts_with(prefix)) {
      seconds = parse_seconds(args[i].substr(prefix.size()));
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

}  // namespace roo::cli
