#pragma once

#include "roo/core/error.hpp"

#include <cstdio>

namespace roo::cli {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;  ///< something the user asked for stopped at run time
constexpr int exit_usage = 2;    ///< a bad flag, address or application

/// Runs `body` (returning an exit status) for a tool named after Wallaroo's (machida, cluster_shutdown,
/// cluster_shrinker), whose errors reach the user as one line, `<program>: unable to <what>`: exit_usage for a
/// usage error, exit_failure for any other of Roo's errors.
template <typename Body>
int exit_status_of(const char* program, Body&& body) {
  try {
    return body();
  } catch (const core::UsageError& e) {
    std::fprintf(stderr, "%s: unable to %s\n", program, e.what());
    return exit_usage;
  } catch (const core::Error& e) {
    std::fprintf(stderr, "%s: unable to %s\n", program, e.what());
    return exit_failure;
  }
}

/// Thrown by a subcommand that has already said what it had to and wants main to exit with `code`.
struct ExitRequest {
  int code = 0;
};

}  // namespace roo::cli
