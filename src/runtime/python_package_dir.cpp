#include "roo/runtime/python_package_dir.hpp"

#include "shipped_dir.hpp"

namespace roo::runtime {
namespace {

ShippedDir python_package(const std::filesystem::path& source_dir) {
  return ShippedDir{.env_var = "ROO_PYTHON_DIR",
                    .installed = "lib/roo/python",
                    .marker = "wallaroo/__init__.py",
                    .source_dir = source_dir};
}

}  // namespace

std::filesystem::path python_package_dir(const char* env_value, const std::filesystem::path& executable,
                                         const std::filesystem::path& source_dir) {
  return find_shipped_dir(python_package(source_dir), env_value, executable);
}

std::filesystem::path python_package_dir() { return find_shipped_dir(python_package(ROO_SOURCE_PYTHON_DIR)); }

}  // namespace roo::runtime
