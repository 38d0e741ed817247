#pragma once

#include <string>
#include <vector>

namespace roo::cli {

/// `--stuck-step-warning SECONDS` (or `=SECONDS`): after how long a user call that has not returned is logged with
/// its step and key. `roo run` takes it before APP (CLI11); machida has no CLI11 parser, so this takes it out of
/// `args` wherever it stands and leaves `seconds` alone when absent. Throws core::UsageError for a missing or
/// malformed value (a number of seconds, more than 0).
void take_stuck_step_warning(std::vector<std::string>& args, double& seconds);

}  // namespace roo::cli
