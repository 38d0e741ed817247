#pragma once

#include <cstddef>
#include <string>

namespace roo::cli {

/// A connected, blocking TCP socket owned by one of the tools that dial a worker (roo send, roo ctl, roo shutdown):
/// move-only, closed in an orderly way when it goes. Never raises SIGPIPE.
class ClientSocket {
 public:
  ClientSocket(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ClientSocket(ClientSocket&& other) noexcept;
  ClientSocket& operator=(ClientSocket&& other) noexcept;
  ClientSocket(const ClientSocket&) = delete;
  ClientSocket& operator=(const ClientSocket&) = delete;
  ~ClientSocket();

  /// Writes all `size` bytes, resuming after partial writes and signals. Returns 0, or the errno that ended the
  /// connection (EPIPE, ECONNRESET, ...).
  [[nodiscard]] int write_all(const char* data, std::size_t size);

  /// Half-closes, discards anything the peer sent (so the close is not a reset), and closes. Idempotent.
  void close();

  [[nodiscard]] int fd() const { return fd_; }
  /// "host:port" as the user wrote it.
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  int fd_ = -1;
  std::string name_;
};

}  // namespace roo::cli
