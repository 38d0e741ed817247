#include "shipped_dir.hpp"

#include <cstdlib>
#include <system_error>

namespace roo::runtime {

std::filesystem::path find_shipped_dir(const ShippedDir& dir, const char* env_value,
                                       const std::filesystem::path& executable) {
  if (env_value != nullptr && *env_value != '\0') {
    return env_value;
  }
  if (!executable.empty()) {
    std::filesystem::path installed = (executable.parent_path() / ".." / dir.installed).lexically_normal();
    std::error_code error;
    if (std::filesystem::is_regular_file(installed / dir.marker, error)) {
      return installed;
    }
  }
  return dir.source_dir;
}

std::filesystem::path find_shipped_dir(const ShippedDir& dir) {
  // The kernel resolves /proc/self/exe to the binary itself, whatever symlink (machida, /usr/local/bin/roo) or
  // relative path it was started through; an error (no /proc) leaves it empty and falls through to the source tree.
  std::error_code error;
  std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe", error);
  return find_shipped_dir(dir, std::getenv(dir.env_var), error ? std::filesystem::path() : executable);
}

}  // namespace roo::runtime
