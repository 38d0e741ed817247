#pragma once

#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/endpoint.hpp"
#include "roo/core/frame_batch.hpp"
#include "roo/io/sink.hpp"
#include "roo/io/source.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace roo::io {

class HttpExchangeCore;

struct HttpExchangeConfig {
  std::string name;                        ///< the app's source name: shown in logs
  core::Endpoint listen;                   ///< host:port to serve
  std::uint32_t source_index = 0;          ///< stamped on every FrameBatch
  /// Answer `200 ok` (text/plain) at once on receipt; replies for this source are then ignored.
  bool ignore_response = false;
  std::size_t max_body_bytes = 1024 * 1024;  ///< a larger body gets 413
  std::size_t max_header_bytes = 8 * 1024;   ///< a larger request header gets 431
  std::size_t max_connections = 1024;        ///< past this, new clients wait in the kernel's backlog
  /// A request must arrive whole within this (also how long an idle keep-alive connection stays open).
  std::chrono::milliseconds read_timeout{30000};
  /// A request whose reply has not come within this gets 504 and is forgotten.
  std::chrono::milliseconds reply_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};  ///< a client that does not take its answer is closed
  /// SO_REUSEPORT, so that every worker of `roo run --workers N` serves the same port.
  bool reuse_port = true;
};

/// An HTTP/1.1 request/response source (Boost.Beast), for Bruco mode (docs/bruco.md): each POST body becomes one
/// frame `u64 BE request id | body`, and the reply sink's byte stream of records
/// `u32 BE length | u64 BE request id | u16 BE status | u16 BE content-type length | content type | body`
/// (the length counts what follows it) answers each request on its connection. It owns the listener, the client
/// connections and the table of requests waiting for their reply; the Source and the reply Sink are its two faces.
///
/// Per connection one request at a time (keep-alive; a pipelined request waits until the previous one is
/// answered). Bad input: a body over max_body_bytes 413, a header over max_header_bytes 431, a malformed request 400
/// (then the connection closes); a method other than POST 405 (GET /healthz: 200 ok). A reply that does not come
/// within reply_timeout: 504. A reply whose id is unknown (the client left, or it was answered) is dropped and
/// counted (unknown_replies(), one debug line). Backpressure: when the executor's mailbox is full, no connection
/// reads its next request until the mailbox has room.
///
/// Stop: the source's stop() stops accepting, closes connections not waiting for a reply, and hands the frames
/// read over; requests already handed over are still answered by replies that arrive until the reply sink stops,
/// which answers the rest 503 and closes. Without a reply sink (or with ignore_response) the source's stop answers
/// and closes everything itself.
///
/// Threads: everything runs on one strand of `io`; the faces' calls are thread-safe (they post to it). `mailbox`
/// and `pool` must outlive the exchange's activity: destroy the faces and the exchange, then stop the io_context,
/// before them.
class HttpExchange {
 public:
  HttpExchange(boost::asio::io_context& io, HttpExchangeConfig config, core::BoundedMailbox<core::FrameBatch>& mailbox,
               core::BatchPool& pool);
  ~HttpExchange();
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  /// The source face: start() binds (throws core::Error "listen on <host:port> for source '<name>': <cause>") and
  /// serves. Call once.
  [[nodiscard]] std::unique_ptr<Source> source();
  /// A reply sink face, a byte stream sink (RecordBatch::values) named `sink_name` in its log lines. Call before the
  /// source starts; several may share one exchange.
  [[nodiscard]] std::unique_ptr<Sink> reply_sink(std::string sink_name);

  /// Replies dropped because their request id was unknown. Any thread.
  [[nodiscard]] std::uint64_t unknown_replies() const;

 private:
  std::shared_ptr<HttpExchangeCore> core_;
};

}  // namespace roo::io
