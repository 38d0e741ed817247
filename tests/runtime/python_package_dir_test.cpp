#include "roo/runtime/python_package_dir.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace roo::runtime {
namespace {

namespace fs = std::filesystem;

/// A scratch folder laid out like an install prefix: bin/roo, and (when asked) lib/roo/python/wallaroo/__init__.py.
class InstallTree {
 public:
  explicit InstallTree(bool with_package)
      : root_(fs::temp_directory_path() / ("roo-package-dir-test-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(root_);
    fs::create_directories(root_ / "bin");
    std::ofstream(root_ / "bin" / "roo") << "";
    if (with_package) {
      fs::create_directories(root_ / "lib" / "roo" / "python" / "wallaroo");
      std::ofstream(root_ / "lib" / "roo" / "python" / "wallaroo" / "__init__.py") << "";
    }
  }
  ~InstallTree() { fs::remove_all(root_); }
  InstallTree(const InstallTree&) = delete;
  InstallTree& operator=(const InstallTree&) = delete;

  [[nodiscard]] fs::path executable() const { return root_ / "bin" / "roo"; }
  [[nodiscard]] fs::path package_dir() const { return root_ / "lib" / "roo" / "python"; }

 private:
  fs::path root_;
};

TEST(PythonPackageDir, TheEnvironmentVariableWinsOverEverything) {
  InstallTree tree(true);
  EXPECT_EQ(python_package_dir("/opt/wallaroo-copy", tree.executable(), "/src/python"), fs::path("/opt/wallaroo-copy"));
}

TEST(PythonPackageDir, AnEmptyEnvironmentVariableCountsAsUnset) {
  InstallTree tree(true);
  EXPECT_EQ(python_package_dir("", tree.executable(), "/src/python"), tree.package_dir());
}

TEST(PythonPackageDir, AnInstalledBinaryFindsThePackageBesideItsPrefix) {
  InstallTree tree(true);
  EXPECT_EQ(python_package_dir(nullptr, tree.executable(), "/src/python"), tree.package_dir());
}

TEST(PythonPackageDir, ABuildTreeBinaryFallsBackToTheSourceTree) {
  InstallTree tree(false);  // bin/roo but no lib/roo/python/wallaroo: a build tree's layout
  EXPECT_EQ(python_package_dir(nullptr, tree.executable(), "/src/python"), fs::path("/src/python"));
}

TEST(PythonPackageDir, AnUnknownExecutableFallsBackToTheSourceTree) {
  EXPECT_EQ(python_package_dir(nullptr, fs::path(), "/src/python"), fs::path("/src/python"));
}

TEST(PythonPackageDir, TheRunningTestBinaryUsesTheSourceTree) {
  // This binary lives in build/tests/runtime, which has no lib/roo/python beside it.
  ASSERT_EQ(::unsetenv("ROO_PYTHON_DIR"), 0);
  EXPECT_TRUE(fs::is_regular_file(python_package_dir() / "wallaroo" / "__init__.py")) << python_package_dir();
}

}  // namespace
}  // namespace roo::runtime
