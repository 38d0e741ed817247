#include "roo/core/shared_secret.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace roo::core {
namespace {

namespace fs = std::filesystem;

std::string write_file(const std::string& name, const std::string& text) {
  auto path = (fs::temp_directory_path() / ("roo_secret_test_" + std::to_string(::getpid()) + "_" + name)).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string load_error(const std::string& path) {
  try {
    (void)SharedSecret::load(path, "--cluster-secret-file");
  } catch (const UsageError& error) {
    return error.what();
  }
  return "";
}

TEST(SharedSecret, OneTrailingNewlineIsNotPartOfIt) {
  auto path = write_file("newline", "s3cret\n");
  EXPECT_EQ(SharedSecret::load(path, "--cluster-secret-file").bytes(), "s3cret");
  auto crlf = write_file("crlf", "s3cret\r\n");
  EXPECT_EQ(SharedSecret::load(crlf, "--cluster-secret-file").bytes(), "s3cret");
  fs::remove(path);
  fs::remove(crlf);
}

TEST(SharedSecret, MissingOrEmptyFilesAreUsageErrors) {
  EXPECT_EQ(load_error("/nonexistent/roo.secret"),
            "read --cluster-secret-file '/nonexistent/roo.secret': no such file or directory");
  auto empty = write_file("empty", "\n");
  EXPECT_EQ(load_error(empty), "read --cluster-secret-file '" + empty +
                                   "': the file is empty; a secret needs at least one byte (32 random bytes are best)");
  auto big = write_file("big", std::string(5000, 'x'));
  EXPECT_EQ(load_error(big), "read --cluster-secret-file '" + big + "': the secret is longer than 4096 bytes");
  fs::remove(empty);
  fs::remove(big);
}

TEST(SharedSecret, GeneratedSecretsAreFreshAndSavedForTheOwnerOnly) {
  auto first = SharedSecret::generate();
  EXPECT_EQ(first.bytes().size(), 64u);
  EXPECT_NE(first.bytes(), SharedSecret::generate().bytes());
  auto path = (fs::temp_directory_path() / ("roo_secret_test_saved_" + std::to_string(::getpid()))).string();
  first.save(path);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(SharedSecret::load(path, "--cluster-secret-file").bytes(), first.bytes());
  EXPECT_THROW(first.save(path), Error);  // never overwrites
  fs::remove(path);
}

}  // namespace
}  // namespace roo::core
