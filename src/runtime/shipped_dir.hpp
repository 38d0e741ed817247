#pragma once

#include <filesystem>

namespace roo::runtime {

/// A folder Roo ships beside its binary (cmake/RooInstall.cmake): the wallaroo package, the dashboard. Looked up
/// when the worker starts, not compiled in, so that an installed tree (`cmake --install`, the .deb) works wherever
/// it is, even copied elsewhere (docs/install.md):
/// 1. the environment variable `env_var`, when set and not empty (a copy anywhere);
/// 2. `<the executable's folder>/../<installed>`, when it holds `marker` (the installed layout); the executable is
///    `/proc/self/exe`, symlinks resolved, so `machida` linked from anywhere finds the same folder as `roo`;
/// 3. `source_dir`, the source tree's copy (a build tree: `build/src/cli/roo` uses the files it was built beside).
struct ShippedDir {
  const char* env_var;               ///< e.g. "ROO_PYTHON_DIR"
  std::filesystem::path installed;   ///< under the install prefix, e.g. "lib/roo/python"
  std::filesystem::path marker;      ///< a file inside it, e.g. "wallaroo/__init__.py"
  std::filesystem::path source_dir;  ///< e.g. "<source tree>/python"
};

/// The rule above for this process.
[[nodiscard]] std::filesystem::path find_shipped_dir(const ShippedDir& dir);

/// The same rule on given inputs (for tests): `env_value` is the variable's value (null: unset), `executable` the
/// resolved path of the running binary (empty: unknown).
[[nodiscard]] std::filesystem::path find_shipped_dir(const ShippedDir& dir, const char* env_value,
                                                     const std::filesystem::path& executable);

}  // namespace roo::runtime
