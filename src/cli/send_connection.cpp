#include "send_connection.hpp"

#include "connect_attempt.hpp"
#include "send_errno.hpp"

#include "roo/core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace roo::cli {

namespace {

using Clock = std::chrono::steady_clock;

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", seconds);
  return text;
}

bool worth_retrying(int error) {
  return error == ECONNREFUSED || error == ETIMEDOUT || error == ENETUNREACH || error == EHOSTUNREACH ||
         error == ECONNRESET || error == ECONNABORTED || error == EAGAIN || error == EINTR;
}

}  // namespace

SendConnection SendConnection::connect(const core::Endpoint& peer, Clock::time_point deadline, double timeout_s,
                                       const std::atomic<bool>& stop) {
  std::string name = peer.to_string();
  bool announced = false;
  int last_error = 0;
  while (true) {
    std::string resolve_error;
    int fd = connect_to(peer, deadline, resolve_error);
    if (!resolve_error.empty()) {
      throw core::Error("resolve --host " + name + ": " + resolve_error);
    }
    if (fd >= 0) {
      return SendConnection(ClientSocket(fd, name));
    }
    last_error = -fd;
    if (!worth_retrying(last_error)) {
      throw core::Error("connect to " + name + ": " + errno_text(last_error));
    }
    if (stop.load() || Clock::now() + std::chrono::milliseconds(100) > deadline) {
      if (stop.load()) {
        throw core::Error("connect to " + name + ": interrupted while retrying (" + errno_text(last_error) + ")");
      }
      throw core::Error("connect to " + name + ": " + errno_text(last_error) + " (after " + seconds_text(timeout_s) +
                        ")");
    }
    if (!announced) {
      std::fprintf(stderr, "roo send: %s: %s; retrying every 100 ms for up to %s (--connect-timeout)\n", name.c_str(),
                   errno_text(last_error).c_str(), seconds_text(timeout_s).c_str());
      std::fflush(stderr);
      announced = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace roo::cli
