#pragma once

#include "roo/core/endpoint.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>

namespace roo::cli {

/// One blocking TCP connection from `roo send` to a receiver.
class SendConnection {
 public:
  /// Connects to `peer`, retrying every 100 ms while the peer refuses, until `deadline`. The first refusal is
  /// reported once on stderr. Throws core::Error ("connect to h:p: connection refused (after 10 s)") when the
  /// deadline passes, the name does not resolve, or `stop` becomes true.
  static SendConnection connect(const core::Endpoint& peer, std::chrono::steady_clock::time_point deadline,
                                double timeout_s, const std::atomic<bool>& stop);

  SendConnection(SendConnection&& other) noexcept;
  SendConnection& operator=(SendConnection&& other) noexcept;
  SendConnection(const SendConnection&) = delete;
  SendConnection& operator=(const SendConnection&) = delete;
  ~SendConnection();

  /// Writes all `size` bytes, resuming after partial writes and signals. Returns 0, or the errno that ended
  /// the connection (EPIPE, ECONNRESET, ...). Never raises SIGPIPE.
  [[nodiscard]] int write_all(const char* data, std::size_t size);

  /// Half-closes, discards anything the peer sent (so the close is not a reset), and closes.
  void close();

  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  SendConnection(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  int fd_ = -1;
  std::string name_;
};

}  // namespace roo::cli
