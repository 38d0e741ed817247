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
/// At-least-once: bytes written to the socket are kept until the peer's kernel acknowledged them (TCP_INFO, SIOCOUTQ), and
/// the last max_buffered_bytes / 2 acknowledged bytes are kept too (the peer may not have read them yet). After a
/// lost connection everything kept is resent from the start of the oldest write() buffer, so some output may arrive
/// twice, never torn (each write() buffer must hold whole frames). Runs on its own strand of `io`. Destroying the
/// sink closes it at once, discarding (with a warning unless stop() was called) what is still kept; destroy it
/// before the io_context.
class TcpSink {
 public:
  virtual ~TcpSink() = default;

  /// Begins connecting; does not wait for the connection.
  virtual void start() = 0;

  /// Queues bytes for writing. Thread-safe. Accounts them in budget() until written.
  virtual void write(std::vector<char>&& bytes) = 0;

  /// Bytes the sink holds: queued, or written and kept for a resend; the producer waits on it when it is over the
  /// limit.
  [[nodiscard]] virtual core::ByteBudget& budget() = 0;

  /// Writes what is queued (reconnecting if needed), waits until the peer acknowledged all of it, closes, then
  /// calls `on_stopped` on the io_context's thread. Thread-safe, idempotent. The caller bounds the wait.
  virtual void stop(std::function<void()> on_stopped) = 0;

  /// Bytes handed to write() that the peer has not acknowledged (all that is kept, while disconnected); 0 once
  /// stopped. Call it on the thread running the io_context, or once that thread ran the stop's callback.
  [[nodiscard]] virtual std::size_t undelivered_bytes() const = 0;

  /// Why undelivered_bytes() are not delivered: "the peer did not acknowledge them" or "no connection: <cause>".
  /// Same threading as undelivered_bytes().
  [[nodiscard]] virtual std::string undelivered_reason() const = 0;
};

[[nodiscard]] std::unique_ptr<TcpSink> make_tcp_sink(boost::asio::io_context& io, TcpSinkConfig config);

}  // namespace roo::io
