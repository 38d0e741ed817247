#pragma once

#include "receive_options.hpp"
#include "receive_output.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace roo::cli {

/// `roo receive`'s single-threaded epoll loop: one listening socket, any number of connections, each read on
/// its own, and SIGTERM/SIGINT through a signalfd. Streaming mode copies each connection's bytes to stdout a
/// whole line at a time (so concurrent senders never split each other's lines); --framed prints each payload
/// followed by "\n".
class ReceiveServer {
 public:
  /// Binds and listens, then prints "Listening on h:p" (the real port) to stderr. Throws core::Error.
  explicit ReceiveServer(const ReceiveOptions& options);
  ReceiveServer(const ReceiveServer&) = delete;
  ReceiveServer& operator=(const ReceiveServer&) = delete;
  ~ReceiveServer();

  /// Receives until --expect is met or a stop signal arrives, then flushes stdout and prints --stats.
  void run();

  static constexpr std::uint32_t max_frame_bytes = 64u << 20;

 private:
  struct Connection {
    int fd = -1;
    std::string peer;
    std::vector<char> carry;     ///< framed: a partial frame (header included); streaming: an unterminated line
    std::size_t frame_size = 0;  ///< framed: header + payload of the frame in `carry`, once its header is known
  };

  void accept_all();
  /// Reads once (or, when `drain`, until the socket is empty). Returns false once the connection is closed.
  bool read_from(Connection& connection, bool drain);
  void consume_framed(Connection& connection, const char* data, std::size_t size);
  void consume_stream(Connection& connection, const char* data, std::size_t size);
  void emit_frame(const char* payload, std::size_t size);
  void close_connection(Connection& connection);
  void drain_all();
  void print_stats() const;

  ReceiveOptions options_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> connections_;  ///< indexed by fd
  std::unique_ptr<char[]> read_buffer_;
  ReceiveOutput out_;
  std::uint64_t messages_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t first_byte_ns_ = 0;
  std::uint64_t last_byte_ns_ = 0;
  bool done_ = false;
};

}  // namespace roo::cli
