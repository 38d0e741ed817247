#pragma once

#include <filesystem>
#include <string_view>

namespace roo::runtime {

/// The folder that holds Roo's own `wallaroo` package, put first on `sys.path` by every worker, by shipped_dir.hpp's
/// rule, so that an installed tree works wherever it is with no PYTHONPATH (docs/install.md):
/// 1. `ROO_PYTHON_DIR`, when set and not empty (a copy of the package anywhere);
/// 2. `<the executable's folder>/../lib/roo/python`, when it holds `wallaroo/__init__.py` (the installed layout:
///    `P/bin/roo` and `P/lib/roo/python/wallaroo`); the executable is `/proc/self/exe`, symlinks resolved, so
///    `machida` linked from anywhere finds the same package as `roo`;
/// 3. the source tree's `python/` (a build tree: `build/src/cli/roo` runs the package it was built beside).
[[nodiscard]] std::filesystem::path python_package_dir();

/// The same rule on given inputs (for tests): `env_value` is ROO_PYTHON_DIR (null: unset), `executable` the
/// resolved path of the running binary (empty: unknown), `source_dir` the source tree's `python/`.
[[nodiscard]] std::filesystem::path python_package_dir(const char* env_value, const std::filesystem::path& executable,
                                                       const std::filesystem::path& source_dir);

}  // namespace roo::runtime
