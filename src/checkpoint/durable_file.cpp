#include "durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace roo::checkpoint {
namespace {

// Closes the descriptor on every path out of a function.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  // close() reports deferred write errors (NFS, some full disks), so a durable write checks it.
  [[nodiscard]] int close_checked() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

void write_all(int fd, std::string_view bytes, const std::filesystem::path& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw FileError(path, describe_errno(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void write_and_sync(const std::filesystem::path& path, const std::filesystem::path& temporary,
                    std::initializer_list<std::string_view> pieces) {
  FileDescriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    throw FileError(path, describe_errno(errno));
  }
  for (std::string_view piece : pieces) {
    write_all(fd.get(), piece, path);
  }
  if (::fsync(fd.get()) != 0 || fd.close_checked() != 0) {
    throw FileError(path, describe_errno(errno));
  }
}

}  // namespace

std::string describe_errno(int error) {
  std::string text = std::generic_category().message(error);
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

void write_file_durably(const std::filesystem::path& path, const std::filesystem::path& temporary,
                        std::initializer_list<std::string_view> pieces) {
  try {
    write_and_sync(path, temporary, pieces);
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
      throw FileError(path, describe_errno(errno));
    }
  } catch (const FileError&) {
    // A partial temporary file would only hold space on a full disk.
    ::unlink(temporary.c_str());
    throw;
  }
  sync_directory(path.parent_path());
}

void sync_directory(const std::filesystem::path& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    throw FileError(dir, describe_errno(errno));
  }
}

std::vector<char> read_whole_file(const std::filesystem::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (fd.get() < 0 || ::fstat(fd.get(), &info) != 0) {
    throw FileError(path, describe_errno(errno));
  }
  std::vector<char> bytes(static_cast<std::size_t>(info.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw FileError(path, describe_errno(errno));
    }
    if (n == 0) {
      bytes.resize(done);  // shrank while read: the caller's size check reports it
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return bytes;
}

}  // namespace roo::checkpoint
