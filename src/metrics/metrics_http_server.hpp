#pragma once

#include "metrics_http_routes.hpp"

#include "roo/core/byte_stream.hpp"
#include "roo/core/endpoint.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <memory>

namespace roo::core {
class Listener;
}

namespace roo::metrics {

/// The metrics endpoint's HTTP/1.1 server (--metrics-http; Boost.Beast): keep-alive, any number of clients up to
/// `max_connections` at once, each request read within `read_timeout` with its header at most `max_header_bytes`
/// and no body (431 and 413 otherwise, then the connection closes). MetricsHttpRoutes says what it answers.
///
/// Lifecycle: construct (binds) → start() → close(). Everything runs on `io`, the metrics thread's io_context,
/// which one thread runs; construct and start() before that thread runs or on it, close() on it.
class MetricsHttpServer {
 public:
  static constexpr std::size_t max_header_bytes = 8 * 1024;
  static constexpr std::size_t max_connections = 64;
  static constexpr std::chrono::seconds read_timeout{5};  ///< also how long an idle keep-alive connection stays
  static constexpr std::chrono::seconds write_timeout{10};

  /// Binds `where`. Throws core::Error "listen on <where> for the metrics endpoint (--metrics-http): <cause>".
  MetricsHttpServer(boost::asio::io_context& io, const core::Endpoint& where, MetricsHttpRoutes routes);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  /// Begins accepting connections.
  void start();
  /// Stops accepting; connections open now end with the io_context.
  void close();
  /// The bound address (port 0 becomes the real port).
  [[nodiscard]] const core::Endpoint& address() const { return address_; }

 private:
  core::Strand strand_;  ///< the listener's and every connection's
  // Shared with every connection: a connection's last handlers may run after the server is gone.
  std::shared_ptr<const MetricsHttpRoutes> routes_;
  std::shared_ptr<core::Listener> listener_;
  core::Endpoint address_;
};

}  // namespace roo::metrics
