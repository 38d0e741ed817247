#pragma once

// Asio is this header's API: the framed connection, listener and streams are what cluster (and later connectors
// and metrics) build their socket protocols from. Only modules that already use Asio include it.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace roo::core {

namespace asio = boost::asio;
/// The executor every socket, acceptor and timer of one protocol endpoint lives on.
using Strand = asio::strand<asio::io_context::executor_type>;
using TcpSocket = asio::basic_stream_socket<asio::ip::tcp, Strand>;

/// The byte pipe under a FramedConnection: plain TCP today, a TLS stream over the same socket later. Its
/// completion handlers run on the strand the stream was made on. Owned by one FramedConnection.
class ByteStream {
 public:
  using Handler = std::function<void(const boost::system::error_code&, std::size_t)>;
  virtual ~ByteStream() = default;

  /// Completes the stream's own handshake (TLS: certificates both ways), then calls `done` on the strand; plain
  /// TCP has none and calls `done` at once (posted).
  virtual void async_handshake(std::function<void(const boost::system::error_code&)> done) = 0;
  /// Reads what is there (at least one byte) into `buffer`.
  virtual void async_read_some(asio::mutable_buffer buffer, Handler handler) = 0;
  /// Writes every byte of `buffers` (kept alive by the caller until the handler runs).
  virtual void async_write(const std::vector<asio::const_buffer>& buffers, Handler handler) = 0;
  /// Shuts both directions down and closes; idempotent, never throws.
  virtual void close() = 0;
  /// "host:port" of the other end, or "an unknown peer".
  [[nodiscard]] virtual std::string remote() const = 0;
  /// The strand the stream's handlers run on.
  [[nodiscard]] virtual Strand strand() = 0;
};

/// A plain TCP connection (Nagle off).
class TcpStream final : public ByteStream {
 public:
  explicit TcpStream(TcpSocket socket);
  void async_handshake(std::function<void(const boost::system::error_code&)> done) override;
  void async_read_some(asio::mutable_buffer buffer, Handler handler) override;
  void async_write(const std::vector<asio::const_buffer>& buffers, Handler handler) override;
  void close() override;
  [[nodiscard]] std::string remote() const override;
  [[nodiscard]] Strand strand() override { return socket_.get_executor(); }

 private:
  TcpSocket socket_;
};

/// "host:port" of a connected socket's peer, or "an unknown peer".
[[nodiscard]] std::string describe_remote(const TcpSocket& socket);

/// An OS error as it appears in Roo's messages: lower-case first letter ("connection refused"); end of file reads
/// "the connection was closed".
[[nodiscard]] std::string describe_error(const boost::system::error_code& error);

}  // namespace roo::core
