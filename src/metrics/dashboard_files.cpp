#include "dashboard_files.hpp"

#include <algorithm>
#include <array>
#include <system_error>
#include <utility>

namespace roo::metrics {
namespace {

namespace fs = std::filesystem;

bool is_plain_segment(std::string_view segment) {
  if (segment.empty() || segment.front() == '.') {
    return false;
  }
  return std::none_of(segment.begin(), segment.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return c == '\\' || c == '%' || byte < 0x20 || byte == 0x7f;
  });
}

/// `target` as a path relative to the dashboard's folder; nothing when a segment is not plain.
std::optional<fs::path> relative_path(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return std::nullopt;
  }
  if (target == "/") {
    return fs::path("index.html");
  }
  fs::path relative;
  std::string_view rest = target.substr(1);
  while (true) {
    auto slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (!is_plain_segment(segment)) {
      return std::nullopt;
    }
    relative /= fs::path(segment);
    if (slash == std::string_view::npos) {
      return relative;
    }
    rest.remove_prefix(slash + 1);
  }
}

bool is_inside(const fs::path& folder, const fs::path& file) {
  auto [folder_end, file_at] = std::mismatch(folder.begin(), folder.end(), file.begin(), file.end());
  return folder_end == folder.end() && file_at != file.end();
}

}  // namespace

std::optional<DashboardFile> find_dashboard_file(const fs::path& root, std::string_view target) {
  if (root.empty()) {
    return std::nullopt;
  }
  std::optional<fs::path> relative = relative_path(target);
  if (!relative) {
    return std::nullopt;
  }
  // Both canonical, symlinks resolved: a link inside the folder may point to another file inside it, not out.
  std::error_code error;
  fs::path folder = fs::canonical(root, error);
  if (error) {
    return std::nullopt;
  }
  fs::path file = fs::canonical(folder / *relative, error);
  if (error || !is_inside(folder, file) || !fs::is_regular_file(file, error)) {
    return std::nullopt;
  }
  return DashboardFile{file, content_type_of(file)};
}

std::string_view content_type_of(const fs::path& file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> types = {{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  std::string extension = file.extension().string();
  for (const auto& [suffix, type] : types) {
    if (extension == suffix) {
      return type;
    }
  }
  return "application/octet-stream";
}

}  // namespace roo::metrics
