#pragma once

#include <optional>
#include <string>
#include <vector>

namespace roo::cli {

// Roo's own flags on machida's command line. machida has no CLI11 parser (Wallaroo's flags and the application's
// share the line), so each is taken out of `args` wherever it stands, as `--flag VALUE` or `--flag=VALUE`.

/// `--stuck-step-warning SECONDS` (or `=SECONDS`): after how long a user call that has not returned is logged with
/// its step and key. `roo run` takes it before APP (CLI11); machida has no CLI11 parser, so this takes it out of
/// `args` wherever it stands and leaves `seconds` alone when absent. Throws core::UsageError for a missing or
/// malformed value (a number of seconds, more than 0).
void take_stuck_step_warning(std::vector<std::string>& args, double& seconds);

/// `--metrics-http HOST:PORT`: serve /metrics, /healthz, /readyz and the dashboard there (docs/metrics.md).
/// Returns the last one given; throws core::UsageError for a missing or malformed address.
[[nodiscard]] std::optional<std::string> take_metrics_http(std::vector<std::string>& args);

}  // namespace roo::cli
