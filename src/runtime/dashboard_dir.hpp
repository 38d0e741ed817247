#pragma once

#include <filesystem>

namespace roo::runtime {

/// The folder of the dashboard's files, which --metrics-http serves at / (docs/metrics.md), by shipped_dir.hpp's
/// rule: `ROO_DASHBOARD_DIR`, else `<the executable's folder>/../share/roo/dashboard` when it holds index.html (the
/// installed layout), else the source tree's `dashboard/`.
[[nodiscard]] std::filesystem::path dashboard_dir();

}  // namespace roo::runtime
