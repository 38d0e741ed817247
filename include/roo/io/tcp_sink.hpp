#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "roo/core/byte_budget.hpp"
#include "roo/core/endpoint.hpp"

namespace boost::asio {
class io_context;
}

namespace roo::io {

struct TcpSinkConfig {
  std::string name;                                         ///< shown in logs, e.g. "sink 0"
  core::Endpoint peer;                                      ///< from --out host:port
  std::size_t max_buffered_bytes = 16 * 1024 * 1024;        ///< past this the producer waits (backpressure)
  std::chrono::milliseconds reconnect_interval{250};
};

/// An outbound TCP connection that writes the encoder's bytes verbatim. It connects on start(), and
/// reconnects every reconnect_interval when the peer is away; while away, bytes stay queued (bounded
/// by budget()), so nothing is silently dropped: the producer waits instead.
///
/// Each write() is kept whole: after a lost connection, writing resumes at the start of the first buffer the
/// socket had not completely accepted, so a buffer may be sent twice (at-least-once), never torn. Runs on its
/// own strand of `io`. Destroying the sink closes it at once, discarding (with a warning) what is still queued;
/// destroy it before the io_context.
class TcpSink {
 public:
  virtual ~TcpSink() = default;

  /// Begins connecting; does not wait for the connection.
  virtual void start() = 0;

  /// Queues bytes for writing. Thread-safe. Accounts them in budget() until written.
  virtual void write(std::vector<char>&& bytes) = 0;

  /// Bytes queued and not yet written; the producer waits on it when it is over the limit.
  [[nodiscard]] virtual core::ByteBudget& budget() = 0;

  /// Writes what is queued (while the peer is reachable), closes, then calls `on_stopped` on the
  /// io_context's thread. Thread-safe, idempotent.
  virtual void stop(std::function<void()> on_stopped) = 0;
};

[[nodiscard]] std::unique_ptr<TcpSink> make_tcp_sink(boost::asio::io_context& io, TcpSinkConfig config);

}  // namespace roo::io
