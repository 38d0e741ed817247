#pragma once

#include "client_socket.hpp"

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

  /// Writes all `size` bytes (ClientSocket::write_all): 0, or the errno that ended the connection.
  [[nodiscard]] int write_all(const char* data, std::size_t size) { return socket_.write_all(data, size); }

  /// Half-closes, discards anything the peer sent (so the close is not a reset), and closes.
  void close() { socket_.close(); }

  [[nodiscard]] const std::string& name() const { return socket_.name(); }

 private:
  explicit SendConnection(ClientSocket socket) : socket_(std::move(socket)) {}
  ClientSocket socket_;
};

}  // namespace roo::cli
