#pragma once

#include <string>
#include <vector>

namespace CLI {
class Validator;
}  // namespace CLI

namespace roo::cli {

// One check per kind of flag value, so a bad value reads the same wherever the flag stands: before APP (CLI11),
// after it (`--workers`, Wallaroo's flags) or in machida. A failure throws core::UsageError, reported by main as
// `roo run: unable to parse --workers 'x': expected a whole number of at least 1` (exit 2).

/// A whole number of at least 1 (`--workers`, `--worker-count`).
[[nodiscard]] int parse_count(const std::string& flag, const std::string& value);

/// A number of seconds, 0 or more (`--drain-timeout`), or above 0 when `zero_allowed` is false (`--timeout`).
/// A duration: "1s", "500ms", "2m", or a bare number of seconds ("1.5"); above 0. Returns milliseconds.
[[nodiscard]] long long parse_duration_ms(const std::string& flag, const std::string& value);
/// A whole number of nanoseconds above 0 (Wallaroo's --time-between-checkpoints).
[[nodiscard]] long long parse_nanoseconds(const std::string& flag, const std::string& value);
[[nodiscard]] CLI::Validator duration_value(const std::string& flag);
[[nodiscard]] double parse_seconds(const std::string& flag, const std::string& value, bool zero_allowed = true);

// The same checks for CLI11 options: `->check(count_value("--workers"))`. They throw instead of returning CLI11's
// own text ("Value x not in range 0.000000 to 1797..."), which main would print as is.
[[nodiscard]] CLI::Validator count_value(const std::string& flag);
/// HOST:PORT (core::parse_endpoint's rules).
[[nodiscard]] CLI::Validator endpoint_value(const std::string& flag);
[[nodiscard]] CLI::Validator seconds_value(const std::string& flag, bool zero_allowed = true);
[[nodiscard]] CLI::Validator one_of(const std::string& flag, const std::vector<std::string>& choices);

}  // namespace roo::cli
