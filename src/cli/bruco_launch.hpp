#pragma once

#include <optional>
#include <string>
#include <vector>

namespace roo::cli {

/// `roo run` of a Bruco function (docs/bruco.md): a `config.yaml`, a folder holding one (or one subfolder that
/// does), or a `.zip` of such a folder.
[[nodiscard]] bool is_bruco_function(const std::string& app);

/// What `roo run` runs for the function at `path`: unpacks a .zip (to a temporary folder, reported), reads and checks
/// its config.yaml, sets processor.env in this process's environment (the workers inherit it), installs
/// requirements.txt with pip unless BRUCO_DISABLE_PIP=true (into the active virtualenv, else into a `.roo-venv`
/// beside the function, which then becomes the active one), and returns the application's argv (Roo's Bruco
/// module and its flags) and how many workers run it: `workers_flag` (roo run --workers) if given, else
/// processor.workers. Throws core::UsageError for a bad function or config, core::Error when pip fails (with pip's
/// last lines).
struct BrucoRun {
  std::vector<std::string> argv;
  int workers = 1;
};
[[nodiscard]] BrucoRun prepare_bruco_function(const std::string& path, std::optional<int> workers_flag);

}  // namespace roo::cli
