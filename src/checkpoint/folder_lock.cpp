#include "folder_lock.hpp"

#include "durable_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace roo::checkpoint {

FolderLock::FolderLock(const std::filesystem::path& lock_file)
    : fd_(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
  if (fd_ < 0) {
    throw FileError(lock_file, describe_errno(errno));
  }
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      int error = errno;
      ::close(fd_);
      throw FileError(lock_file, describe_errno(error));
    }
  }
}

FolderLock::~FolderLock() { ::close(fd_); }  // closing releases the lock

}  // namespace roo::checkpoint
