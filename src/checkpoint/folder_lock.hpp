#pragma once

#include <filesystem>

namespace roo::checkpoint {

/// An exclusive advisory lock (flock) on a lock file, held while it lives: workers sharing one checkpoint folder
/// update each checkpoint's manifest (their chains side by side) one at a time. Throws FileError when the lock file
/// cannot be opened.
class FolderLock {
 public:
  explicit FolderLock(const std::filesystem::path& lock_file);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_;
};

}  // namespace roo::checkpoint
