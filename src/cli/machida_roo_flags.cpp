#include "machida_roo_flags.hpp"

#include "flag_values.hpp"

#include "roo/core/endpoint.hpp"
#include "roo/core/error.hpp"


namespace roo::cli {
namespace {

/// Takes every `flag VALUE` / `flag=VALUE` out of `args`, calling `take` with each value in order.
template <typename Take>
void take_valued_flag(std::vector<std::string>& args, const std::string& flag, Take take) {
  const std::string prefix = flag + "=";
  for (std::size_t i = 0; i < args.size();) {
    if (args[i] == flag) {
      if (i + 1 >= args.size()) {
        throw core::UsageError("parse " + flag + ": the flag needs a value");
      }
      take(args[i + 1]);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
    } else if (args[i].starts_with(prefix)) {
      take(args[i].substr(prefix.size()));
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

}  // namespace

void take_stuck_step_warning(std::vector<std::string>& args, double& seconds) {
  const std::string flag = "--stuck-step-warning";
  take_valued_flag(args, flag, [&](const std::string& value) { seconds = parse_seconds(flag, value, false); });
}

std::optional<std::string> take_metrics_http(std::vector<std::string>& args) {
  std::optional<std::string> address;
  take_valued_flag(args, "--metrics-http", [&](const std::string& value) {
    (void)core::parse_endpoint(value, "--metrics-http");  // a malformed address is a usage error here, at once
    address = value;
  });
  return address;
}

}  // namespace roo::cli
