#include "stuck_step_flag.hpp"

#include "flag_values.hpp"

#include "roo/core/error.hpp"


namespace roo::cli {
namespace {

constexpr const char* flag = "--stuck-step-warning";

}  // namespace

void take_stuck_step_warning(std::vector<std::string>& args, double& seconds) {
  const std::string prefix = std::string(flag) + "=";
  for (std::size_t i = 0; i < args.size();) {
    if (args[i] == flag) {
      if (i + 1 >= args.size()) {
        throw core::UsageError(std::string("parse ") + flag + ": the flag needs a value");
      }
      seconds = parse_seconds(flag, args[i + 1], false);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
    } else if (args[i].starts_with(prefix)) {
      seconds = parse_seconds(flag, args[i].substr(prefix.size()), false);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

}  // namespace roo::cli
