#include "python_package_dir.hpp"

#include <cstdlib>
#include <system_error>

namespace roo::runtime {

std::filesystem::path python_package_dir(const char* env_value, const std::filesystem::path& executable,
                                         const std::filesystem::path& source_dir) {
  if (env_value != nullptr && *env_value != '\0') {
    return env_value;
  }
  if (!executable.empty()) {
    std::filesystem::path installed = (executable.parent_path() / ".." / "lib" / "roo" / "python").lexically_normal();
    std::error_code error;
    if (std::filesystem::is_regular_file(installed / "wallaroo" / "__init__.py", error)) {
      return installed;
    }
  }
  return source_dir;
}

std::filesystem::path python_package_dir() {
  // The kernel resolves /proc/self/exe to the binary itself, whatever symlink (machida, /usr/local/bin/roo) or
  // relative path it was started through; an error (no /proc) leaves it empty and falls through to the source tree.
  std::error_code error;
  std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe", error);
  return python_package_dir(std::getenv("ROO_PYTHON_DIR"), error ? std::filesystem::path() : executable,
                            ROO_SOURCE_PYTHON_DIR);
}

}  // namespace roo::runtime
