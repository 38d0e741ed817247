#include "roo/core/shared_secret.hpp"

#include "roo/core/error.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

namespace roo::core {
namespace {

constexpr std::size_t max_secret_bytes = 4096;

}  // namespace

SharedSecret SharedSecret::load(const std::string& path, std::string_view flag) {
  std::string where = "read " + std::string(flag) + " '" + path + "': ";
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    std::string cause = std::strerror(errno);
    if (!cause.empty()) {
      cause[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(cause[0])));
    }
    throw UsageError(where + cause);
  }
  std::string bytes(max_secret_bytes + 2, '\0');
  std::size_t got = std::fread(bytes.data(), 1, bytes.size(), file);
  bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) {
    throw UsageError(where + "the file could not be read");
  }
  bytes.resize(got);
  if (bytes.ends_with("\r\n")) {
    bytes.resize(bytes.size() - 2);
  } else if (bytes.ends_with("\n")) {
    bytes.resize(bytes.size() - 1);
  }
  if (bytes.empty()) {
    throw UsageError(where + "the file is empty; a secret needs at least one byte (32 random bytes are best)");
  }
  if (bytes.size() > max_secret_bytes) {
    throw UsageError(where + "the secret is longer than 4096 bytes");
  }
  return SharedSecret(std::move(bytes));
}

SharedSecret SharedSecret::generate() {
  static constexpr char digits[] = "0123456789abcdef";
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    throw Error("generate a cluster secret: the system's random number generator failed");
  }
  std::string hex;
  for (unsigned char byte : raw) {
    hex.push_back(digits[byte >> 4]);
    hex.push_back(digits[byte & 0xf]);
  }
  return SharedSecret(std::move(hex));
}

void SharedSecret::save(const std::string& path) const {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw Error("write the cluster secret to '" + path + "': " + std::strerror(errno));
  }
  std::size_t written = 0;
  while (written < bytes_.size()) {
    ssize_t n = ::write(fd, bytes_.data() + written, bytes_.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      int error = errno;
      ::close(fd);
      throw Error("write the cluster secret to '" + path + "': " + std::strerror(error));
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

}  // namespace roo::core
