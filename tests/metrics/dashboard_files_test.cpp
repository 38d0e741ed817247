#include "dashboard_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace roo::metrics {
namespace {

namespace fs = std::filesystem;

/// A scratch folder: dashboard/ (index.html, app.js, vendor/chart.js, .hidden, a link to app.js, a link out, an
/// empty folder) beside secret.txt, which no request may reach.
class DashboardTree {
 public:
  DashboardTree()
      : root_(fs::temp_directory_path() / ("roo-dashboard-files-test-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(root_);
    fs::create_directories(dir() / "vendor");
    fs::create_directories(dir() / "empty");
    std::ofstream(dir() / "index.html") << "<html>";
    std::ofstream(dir() / "app.js") << "app";
    std::ofstream(dir() / "vendor" / "chart.js") << "chart";
    std::ofstream(dir() / ".hidden") << "hidden";
    std::ofstream(root_ / "secret.txt") << "secret";
    fs::create_symlink(dir() / "app.js", dir() / "linked.js");
    fs::create_symlink(root_ / "secret.txt", dir() / "out.txt");
    fs::create_directory_symlink(root_, dir() / "up");
  }
  ~DashboardTree() { fs::remove_all(root_); }
  DashboardTree(const DashboardTree&) = delete;
  DashboardTree& operator=(const DashboardTree&) = delete;

  [[nodiscard]] fs::path dir() const { return root_ / "dashboard"; }

 private:
  fs::path root_;
};

TEST(DashboardFiles, TheRootIsIndexHtml) {
  DashboardTree tree;
  auto file = find_dashboard_file(tree.dir(), "/");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->path, fs::canonical(tree.dir() / "index.html"));
  EXPECT_EQ(file->content_type, "text/html; charset=utf-8");
}

TEST(DashboardFiles, FilesAndSubfoldersAreFound) {
  DashboardTree tree;
  auto app = find_dashboard_file(tree.dir(), "/app.js");
  ASSERT_TRUE(app);
  EXPECT_EQ(app->content_type, "text/javascript; charset=utf-8");
  auto chart = find_dashboard_file(tree.dir(), "/vendor/chart.js");
  ASSERT_TRUE(chart);
  EXPECT_EQ(chart->path, fs::canonical(tree.dir() / "vendor" / "chart.js"));
}

TEST(DashboardFiles, ALinkToAFileInsideIsFollowed) {
  DashboardTree tree;
  auto linked = find_dashboard_file(tree.dir(), "/linked.js");
  ASSERT_TRUE(linked);
  EXPECT_EQ(linked->path, fs::canonical(tree.dir() / "app.js"));
}

TEST(DashboardFiles, NothingOutsideTheFolderIsReached) {
  DashboardTree tree;
  for (const char* target : {"/../secret.txt", "/vendor/../../secret.txt", "/out.txt", "/up/secret.txt",
                             "/./index.html", "/%2e%2e/secret.txt", "/..\\secret.txt", "secret.txt", ""}) {
    EXPECT_FALSE(find_dashboard_file(tree.dir(), target)) << target;
  }
}

TEST(DashboardFiles, FoldersHiddenFilesAndMissingFilesAreNotServed) {
  DashboardTree tree;
  for (const char* target : {"/vendor", "/vendor/", "/empty", "/.hidden", "/missing.js", "//index.html",
                             "/index.html/"}) {
    EXPECT_FALSE(find_dashboard_file(tree.dir(), target)) << target;
  }
}

TEST(DashboardFiles, NoFolderServesNothing) {
  EXPECT_FALSE(find_dashboard_file(fs::path(), "/"));
  EXPECT_FALSE(find_dashboard_file("/nonexistent/roo-dashboard", "/"));
}

TEST(DashboardFiles, ContentTypesByExtension) {
  EXPECT_EQ(content_type_of("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_of("a.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_of("a.png"), "image/png");
  EXPECT_EQ(content_type_of("a.json"), "application/json");
  EXPECT_EQ(content_type_of("LICENSE.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(content_type_of("uPlot.LICENSE"), "application/octet-stream");
}

}  // namespace
}  // namespace roo::metrics
