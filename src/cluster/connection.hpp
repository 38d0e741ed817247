#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace roo::cluster {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;
using Socket = asio::basic_stream_socket<asio::ip::tcp, Strand>;

/// What a frame handler tells its connection to do next.
enum class FrameAction {
  proceed,  ///< go on with the next frame
  pause,    ///< stop reading until resume() (backpressure, or an answer that is not ready yet)
  stop,     ///< the handler closed the connection (with close() or fail())
};

/// One TCP connection carrying `u32 BE length | body` frames, in either direction, on the cluster's strand.
/// Reads in large chunks and hands each complete body to `on_frame`; writes queued frames with gathered writes.
/// A length over max_frame_bytes (or 0, unless zero frames are skippable) is garbage: the connection warns once
/// ("cluster: closing <kind> connection from <peer>: <what>") and closes. Every handler runs on the strand.
/// Lifecycle: construct → start() → … → close()/fail() by the owner, or `on_closed(cause)` once when the peer
/// went away, the socket failed, or fail() was called.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using FrameHandler = std::function<FrameAction(Connection&, const char* body, std::size_t size)>;
  using ClosedHandler = std::function<void(Connection&, const std::string& cause)>;

  /// `kind` names the port in warnings ("control", "data", "external").
  Connection(Socket socket, std::string kind, bool skip_empty_frames);

  /// Sets the handlers and begins reading. On the strand.
  void start(FrameHandler on_frame, ClosedHandler on_closed);

  /// Queues one frame: `u32 BE length(header_tail + body) | header_tail | body`. On the strand.
  void write(const char* header_tail, std::size_t header_tail_size, std::vector<char> body);
  /// Queues a control/data frame whose body (type byte first) came from a WireWriter.
  void write(std::vector<char> body) { write(nullptr, 0, std::move(body)); }

  /// Stops reading after the current frame. On the strand.
  void pause() { paused_ = true; }
  /// Goes on with buffered frames, then reads again. On the strand.
  void resume();

  /// Calls `done` on the strand once everything queued so far was written (or the connection closed).
  void when_flushed(std::function<void()> done);

  /// Closes without calling on_closed. Idempotent.
  void close();
  /// Warns "cluster: closing <kind> connection from <peer>: <what>", closes, and calls on_closed(what).
  void fail(const std::string& what);

  [[nodiscard]] const std::string& peer() const { return peer_; }
  [[nodiscard]] bool closed() const { return closed_; }

 private:
  struct Pending {
    std::array<char, 8> header{};
    std::size_t header_size = 0;
    std::vector<char> body;
  };

  void read();
  void on_read(const boost::system::error_code& error, std::size_t size);
  void parse();
  void write_queued();
  void on_written(const boost::system::error_code& error, std::size_t written);
  void lost(const std::string& cause);
  void run_flushed();

  Socket socket_;
  std::string kind_;
  std::string peer_;
  bool skip_empty_frames_;
  FrameHandler on_frame_;
  ClosedHandler on_closed_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // unparsed input is buffer_[begin_, end_)
  std::size_t end_ = 0;
  std::deque<Pending> queue_;
  std::vector<asio::const_buffer> gathered_;
  std::size_t gathered_frames_ = 0;
  std::vector<std::function<void()>> flushed_;
  std::optional<std::string> input_error_;  // the read side ended (EOF or error); reported once flushed
  bool reading_ = false;
  bool writing_ = false;
  bool paused_ = false;
  bool closed_ = false;
};

}  // namespace roo::cluster
