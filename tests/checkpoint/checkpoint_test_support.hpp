#pragma once

// A fresh temporary directory per test, and helpers to write and read back checkpoints for exact assertions.

#include "roo/checkpoint/checkpoint_store.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace roo::checkpoint::test {

/// A directory under /tmp, removed (with everything in it) at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "roo-checkpoint-test-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline StoreConfig config_in(const std::filesystem::path& dir, std::string app = "word_count",
                             std::string worker = "worker1", std::string fingerprint = "f1") {
  return StoreConfig{.dir = dir,
                     .identity = {.app_name = std::move(app), .fingerprint = std::move(fingerprint),
                                  .worker_name = std::move(worker)}};
}

/// What a checkpoint restores: (table, key) → (key group, value), and source → position.
struct Restored {
  std::map<std::pair<std::uint32_t, std::string>, std::pair<std::uint32_t, std::string>> state;
  std::map<std::uint32_t, std::string> sources;
  std::size_t state_calls = 0;
};

inline Restored restore(const CheckpointStore& store, const RecoveryPoint& point) {
  Restored out;
  store.read(
      point,
      [&](std::uint32_t table, std::uint32_t key_group, std::string_view key, std::string_view value) {
        out.state[{table, std::string(key)}] = {key_group, std::string(value)};
        ++out.state_calls;
      },
      [&](std::uint32_t source, std::string_view position) { out.sources[source] = std::string(position); });
  return out;
}

/// The names of the regular files in `dir`, sorted.
inline std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      out.push_back(entry.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string name_of(std::uint64_t id, const char* kind) {
  std::string digits = std::to_string(id);
  return "snapshot-" + std::string(20 - digits.size(), '0') + digits + "." + kind;
}

inline std::string manifest_of(std::uint64_t id) {
  std::string digits = std::to_string(id);
  return "manifest-" + std::string(20 - digits.size(), '0') + digits + ".json";
}

}  // namespace roo::checkpoint::test
