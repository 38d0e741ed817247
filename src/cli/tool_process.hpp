#pragma once

#include <string>
#include <vector>

namespace roo::cli {

/// What a helper program (pip, python3 -m venv, python3 -m zipfile) did: its exit status (-1: it could not be
/// started, or a signal ended it) and everything it wrote to stdout and stderr, interleaved.
struct ToolResult {
  int status = -1;
  std::string output;

  /// The last `count` lines of the output, for a one-screen error.
  [[nodiscard]] std::string last_lines(std::size_t count) const;
};

/// Runs `argv` (argv[0] looked up on PATH) to its end, with no input, collecting its output. Blocks.
[[nodiscard]] ToolResult run_tool(const std::vector<std::string>& argv);

}  // namespace roo::cli
