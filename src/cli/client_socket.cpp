#include "client_socket.hpp"

#include <cerrno>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

namespace roo::cli {

ClientSocket::ClientSocket(ClientSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)) {}

ClientSocket& ClientSocket::operator=(ClientSocket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
  }
  return *this;
}

ClientSocket::~ClientSocket() { close(); }

int ClientSocket::write_all(const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t written = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return 0;
}

void ClientSocket::close() {
  if (fd_ < 0) {
    return;
  }
  ::shutdown(fd_, SHUT_WR);
  char sink[4096];
  while (::recv(fd_, sink, sizeof sink, MSG_DONTWAIT) > 0) {
  }
  ::close(fd_);
  fd_ = -1;
}

}  // namespace roo::cli
