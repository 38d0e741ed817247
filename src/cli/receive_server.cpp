#include "receive_server.hpp"

#include "send_errno.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/endpoint.hpp"
#include "roo/core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace roo::cli {

namespace {

constexpr std::uint64_t flush_every_ns = 100'000'000;
constexpr int listen_tag = -1;
constexpr int signal_tag = -2;

std::uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(now.tv_nsec);
}

std::uint64_t count_newlines(const char* data, std::size_t size) {
  std::uint64_t count = 0;
  const char* end = data + size;
  while (const void* found = std::memchr(data, '\n', static_cast<std::size_t>(end - data))) {
    ++count;
    data = static_cast<const char*>(found) + 1;
  }
  return count;
}

std::string peer_name(const sockaddr_storage& address) {
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&address), sizeof address, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "unknown peer";
  }
  return core::Endpoint{host, static_cast<std::uint16_t>(std::atoi(port))}.to_string();
}

void add_to_epoll(int epoll_fd, int fd, int tag) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = tag;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
    throw core::Error("watch a socket with epoll: " + errno_text(errno));
  }
}

}  // namespace

ReceiveServer::ReceiveServer(const ReceiveOptions& options)
    : options_(options),
      read_buffer_(std::make_unique_for_overwrite<char[]>(options.buffer_size)),
      out_(STDOUT_FILENO, std::max<std::size_t>(options.buffer_size, 1 << 20)) {
  core::Endpoint endpoint = core::parse_endpoint(options.listen, "--listen");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  std::string port = std::to_string(endpoint.port);
  if (int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    throw core::Error("resolve --listen " + endpoint.to_string() + ": " + ::gai_strerror(rc));
  }
  int error = 0;
  for (addrinfo* address = found; address != nullptr && listen_fd_ < 0; address = address->ai_next) {
    int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, address->ai_addr, address->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      error = errno;
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
  }
  ::freeaddrinfo(found);
  if (listen_fd_ < 0) {
    throw core::Error("listen on " + endpoint.to_string() + " (--listen): " + errno_text(error));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length);
  endpoint.port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                    : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  signal_fd_ = ::signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (signal_fd_ < 0 || epoll_fd_ < 0) {
    throw core::Error("set up the receive loop: " + errno_text(errno));
  }
  add_to_epoll(epoll_fd_, listen_fd_, listen_tag);
  add_to_epoll(epoll_fd_, signal_fd_, signal_tag);

  std::fprintf(stderr, "Listening on %s\n", endpoint.to_string().c_str());
  std::fflush(stderr);
}

ReceiveServer::~ReceiveServer() {
  for (auto& connection : connections_) {
    if (connection && connection->fd >= 0) {
      ::close(connection->fd);
    }
  }
  for (int fd : {listen_fd_, epoll_fd_, signal_fd_}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

void ReceiveServer::run() {
  if (options_.has_expect && options_.expect == 0) {
    done_ = true;
  }
  epoll_event events[64];
  std::uint64_t last_flush_ns = monotonic_ns();
  bool stopping = false;
  while (!done_ && !stopping) {
    int ready = ::epoll_wait(epoll_fd_, events, 64, out_.pending() ? 0 : -1);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw core::Error("wait for connections: " + errno_text(errno));
    }
    if (ready == 0) {  // idle: let readers of stdout see what has arrived
      out_.flush();
      last_flush_ns = monotonic_ns();
      continue;
    }
    for (int i = 0; i < ready && !done_; ++i) {
      int tag = events[i].data.fd;
      if (tag == listen_tag) {
        accept_all();
      } else if (tag == signal_tag) {
        stopping = true;
      } else if (static_cast<std::size_t>(tag) < connections_.size() && connections_[tag] &&
                 connections_[tag]->fd >= 0) {
        read_from(*connections_[tag], false);
      }
    }
    if (out_.pending()) {
      std::uint64_t now = monotonic_ns();
      if (now - last_flush_ns >= flush_every_ns) {
        out_.flush();
        last_flush_ns = now;
      }
    }
  }
  if (stopping && !done_) {
    drain_all();
  }
  out_.flush();
  print_stats();
}

void ReceiveServer::accept_all() {
  while (true) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (errno != EAGAIN) {
        std::fprintf(stderr, "roo receive: unable to accept a connection: %s\n", errno_text(errno).c_str());
      }
      return;
    }
    if (static_cast<std::size_t>(fd) >= connections_.size()) {
      connections_.resize(static_cast<std::size_t>(fd) + 1);
    }
    auto connection = std::make_unique<Connection>();
    connection->fd = fd;
    connection->peer = peer_name(address);
    add_to_epoll(epoll_fd_, fd, fd);
    connections_[static_cast<std::size_t>(fd)] = std::move(connection);
  }
}

bool ReceiveServer::read_from(Connection& connection, bool drain) {
  do {
    ssize_t got = ::read(connection.fd, read_buffer_.get(), options_.buffer_size);
    if (got > 0) {
      std::uint64_t now = monotonic_ns();
      if (first_byte_ns_ == 0) {
        first_byte_ns_ = now;
      }
      last_byte_ns_ = now;
      bytes_ += static_cast<std::uint64_t>(got);
      if (options_.framed) {
        consume_framed(connection, read_buffer_.get(), static_cast<std::size_t>(got));
      } else {
        consume_stream(connection, read_buffer_.get(), static_cast<std::size_t>(got));
      }
      if (connection.fd < 0) {
        return false;  // closed for a malformed frame
      }
      continue;
    }
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0 && errno == EAGAIN) {
      return true;
    }
    close_connection(connection);  // end of stream, or a reset
    return false;
  } while (drain && !done_);
  return true;
}

void ReceiveServer::emit_frame(const char* payload, std::size_t size) {
  ++messages_;
  if (!options_.no_write) {
    out_.append(payload, size);
    out_.append_newline();
  }
  if (options_.has_expect && messages_ >= options_.expect) {
    done_ = true;
  }
}

void ReceiveServer::consume_framed(Connection& connection, const char* data, std::size_t size) {
  std::vector<char>& carry = connection.carry;
  auto malformed = [&](std::uint32_t length) {
    std::fprintf(stderr,
                 "roo receive: closing the connection from %s: frame length %" PRIu32
                 " is over the 64 MiB limit (--framed)\n",
                 connection.peer.c_str(), length);
    carry.clear();
    close_connection(connection);
  };
  if (!carry.empty()) {
    if (carry.size() < 4) {
      std::size_t take = std::min(4 - carry.size(), size);
      carry.insert(carry.end(), data, data + take);
      data += take;
      size -= take;
      if (carry.size() < 4) {
        return;
      }
      std::uint32_t length = core::load_u32_be(carry.data());
      if (length > max_frame_bytes) {
        malformed(length);
        return;
      }
      connection.frame_size = 4 + static_cast<std::size_t>(length);
      carry.reserve(connection.frame_size);
    }
    std::size_t take = std::min(connection.frame_size - carry.size(), size);
    carry.insert(carry.end(), data, data + take);
    data += take;
    size -= take;
    if (carry.size() < connection.frame_size) {
      return;
    }
    emit_frame(carry.data() + 4, connection.frame_size - 4);
    carry.clear();
    if (done_) {
      return;
    }
  }
  while (size >= 4) {
    std::uint32_t length = core::load_u32_be(data);
    if (length > max_frame_bytes) {
      malformed(length);
      return;
    }
    if (size - 4 < length) {
      connection.frame_size = 4 + static_cast<std::size_t>(length);
      carry.reserve(connection.frame_size);
      break;
    }
    emit_frame(data + 4, length);
    data += 4 + length;
    size -= 4 + static_cast<std::size_t>(length);
    if (done_) {
      return;
    }
  }
  carry.insert(carry.end(), data, data + size);
}

void ReceiveServer::consume_stream(Connection& connection, const char* data, std::size_t size) {
  std::size_t usable = size;
  if (options_.has_expect) {
    std::uint64_t wanted = options_.expect - messages_;
    const char* at = data;
    const char* end = data + size;
    std::uint64_t seen = 0;
    while (seen < wanted) {
      const void* found = std::memchr(at, '\n', static_cast<std::size_t>(end - at));
      if (found == nullptr) {
        break;
      }
      ++seen;
      at = static_cast<const char*>(found) + 1;
    }
    messages_ += seen;
    if (seen == wanted) {
      usable = static_cast<std::size_t>(at - data);
      done_ = true;
    }
  } else {
    messages_ += count_newlines(data, size);
  }
  if (options_.no_write) {
    return;
  }
  std::vector<char>& carry = connection.carry;
  const char* last_newline = static_cast<const char*>(::memrchr(data, '\n', usable));
  if (last_newline == nullptr) {
    carry.insert(carry.end(), data, data + usable);
    if (carry.size() >= options_.buffer_size) {  // a very long line: pass it on rather than hold it all
      out_.append(carry.data(), carry.size());
      carry.clear();
    }
    return;
  }
  if (!carry.empty()) {
    out_.append(carry.data(), carry.size());
    carry.clear();
  }
  out_.append(data, static_cast<std::size_t>(last_newline + 1 - data));
  carry.assign(last_newline + 1, data + usable);
}

void ReceiveServer::close_connection(Connection& connection) {
  if (!connection.carry.empty()) {
    if (options_.framed) {
      std::fprintf(stderr, "roo receive: the connection from %s closed in the middle of a frame (%zu bytes dropped)\n",
                   connection.peer.c_str(), connection.carry.size());
    } else if (!options_.no_write) {
      out_.append(connection.carry.data(), connection.carry.size());  // the last line had no newline
    }
  }
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection.fd, nullptr);
  ::close(connection.fd);
  connection.fd = -1;  // the slot is reused by the next connection that gets this fd
  std::vector<char>().swap(connection.carry);
}

void ReceiveServer::drain_all() {
  accept_all();
  for (auto& slot : connections_) {
    if (done_) {
      return;
    }
    if (slot && slot->fd >= 0) {
      read_from(*slot, true);
    }
  }
  if (!options_.framed && !options_.no_write) {
    for (auto& slot : connections_) {
      if (slot && slot->fd >= 0 && !slot->carry.empty()) {
        out_.append(slot->carry.data(), slot->carry.size());
        slot->carry.clear();
      }
    }
  }
}

void ReceiveServer::print_stats() const {
  if (!options_.stats) {
    return;
  }
  double seconds = static_cast<double>(last_byte_ns_ - first_byte_ns_) * 1e-9;
  double rate = seconds > 0 ? static_cast<double>(messages_) / seconds : 0;
  std::fprintf(stderr, "received %" PRIu64 " messages (%" PRIu64 " bytes) in %.3f s, %.0f msg/s\n", messages_, bytes_,
               seconds, rate);
  std::fflush(stderr);
}

void run_receive(const ReceiveOptions& options) {
  ReceiveServer server(options);
  server.run();
}

}  // namespace roo::cli
