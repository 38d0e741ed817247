#include "connect_attempt.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace roo::cli {

int connect_attempt(const addrinfo& address, std::chrono::steady_clock::time_point deadline) {
  int fd = ::socket(address.ai_family, address.ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, address.ai_protocol);
  if (fd < 0) {
    return -errno;
  }
  int error = 0;
  if (::connect(fd, address.ai_addr, address.ai_addrlen) != 0) {
    error = errno;
    if (error == EINPROGRESS) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd waiting{fd, POLLOUT, 0};
      int ready = ::poll(&waiting, 1, static_cast<int>(std::clamp<long long>(left.count(), 1, 1 << 30)));
      if (ready == 0) {
        error = ETIMEDOUT;
      } else if (ready < 0) {
        error = errno;
      } else {
        socklen_t length = sizeof error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
      }
    }
  }
  if (error != 0) {
    ::close(fd);
    return -error;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int connect_to(const core::Endpoint& peer, std::chrono::steady_clock::time_point deadline, std::string& resolve_error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(peer.port);
  if (int rc = ::getaddrinfo(peer.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    resolve_error = ::gai_strerror(rc);
    return -1;
  }
  int result = -ECONNREFUSED;
  for (addrinfo* address = found; address != nullptr; address = address->ai_next) {
    result = connect_attempt(*address, deadline);
    if (result >= 0) {
      break;
    }
  }
  ::freeaddrinfo(found);
  return result;
}

}  // namespace roo::cli
