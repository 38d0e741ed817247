#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace roo::metrics {

/// A file of the dashboard a request names, and the Content-Type to send it with.
struct DashboardFile {
  std::filesystem::path path;
  std::string_view content_type;
};

/// The regular file inside `root` (MetricsOptions::dashboard_dir) that the request path `target` names ("/" is
/// "/index.html"; any query string already cut off), or nothing. Nothing outside `root` is ever named: a segment
/// that is empty, starts with a dot (`..`, hidden files) or holds a backslash, a percent sign or a control
/// character is refused, and so is a path whose symlinks lead outside `root`; folders are not listed. Any thread.
[[nodiscard]] std::optional<DashboardFile> find_dashboard_file(const std::filesystem::path& root,
                                                               std::string_view target);

/// The Content-Type of a dashboard file by its extension (.html .js .css .svg .png .json .txt; anything else is
/// application/octet-stream).
[[nodiscard]] std::string_view content_type_of(const std::filesystem::path& file);

}  // namespace roo::metrics
