#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "roo/core/byte_budget.hpp"
#include "roo/core/endpoint.hpp"
#include "roo/io/sink.hpp"

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
class TcpSink : public Sink {};

[[nodiscard]] std::unique_ptr<TcpSink> make_tcp_sink(boost::asio::io_context& io, TcpSinkConfig config);

}  // namespace roo::io
