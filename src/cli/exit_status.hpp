#pragma once

namespace roo::cli {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;  ///< something the user asked for stopped at run time
constexpr int exit_usage = 2;    ///< a bad flag, address or application

/// Thrown by a subcommand that has already said what it had to and wants main to exit with `code`.
struct ExitRequest {
  int code = 0;
};

}  // namespace roo::cli
