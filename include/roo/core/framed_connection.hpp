#pragma once

#include "roo/core/byte_stream.hpp"
#include "roo/core/listener.hpp"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace roo::core {

/// Largest frame a peer may send before it has authenticated (or identified itself, where no secret is set).
constexpr std::uint32_t untrusted_max_frame_bytes = 4096;

/// What a frame handler tells its connection to do next.
enum class FrameAction {
  proceed,  ///< go on with the next frame
  pause,    ///< stop reading until resume() (backpressure, or an answer that is not ready yet)
  stop,     ///< the handler closed the connection (with close() or fail())
};

/// Default cap on the bytes a connection queues for writing before it stops reading (FramedConnectionConfig).
constexpr std::size_t default_max_queued_bytes = std::size_t{4} * 1024 * 1024;

struct FramedConnectionConfig {
  std::string kind{};                      ///< "control", "data", "external": named in warnings
  std::string log_prefix{};                ///< the owner's: warnings read "<prefix>: closing <kind> connection ..."
  std::shared_ptr<spdlog::logger> logger{};  ///< the owner's module logger
  bool skip_empty_frames = false;          ///< a zero length is skipped (else it is garbage)
  std::uint32_t max_frame_bytes = untrusted_max_frame_bytes;  ///< raise with set_max_frame_bytes once trusted
  /// Close when no complete frame arrives for this long (while not paused); 0: never. For peers that have not
  /// authenticated yet: an idle or slow-loris connection does not keep its place.
  std::chrono::milliseconds frame_timeout{0};
  /// Output backpressure: while more than this many bytes of frames wait to be written, no further frames are
  /// read or parsed; reading resumes once the queue drained to half of it. 0: no cap (for channels another
  /// mechanism bounds, e.g. the cluster's credit-limited data channels, where pausing the ack reader could
  /// deadlock the two directions).
  std::size_t max_queued_bytes = default_max_queued_bytes;
};

/// One connection carrying `u32 BE length | body` frames, in either direction, over a ByteStream (TCP, or TLS
/// later), on the stream's strand. Reads in chunks and hands each complete body to `on_frame`; writes queued
/// frames with gathered writes (up to 64 frames per write).
///
/// Limits: the read buffer grows only with bytes actually received (never by a length a peer announces), the
/// output queue is capped (a peer that sends requests without reading the answers stops being read), a
/// length over the current maximum (or 0, unless skippable) is garbage, and an optional frame timeout closes
/// a peer that sends nothing useful. Garbage or a timeout warns once ("<prefix>: closing <kind> connection from
/// <peer>: <what>") and closes. Every member runs on the strand.
/// Lifecycle: construct → start() → … → close()/fail() by the owner, or `on_closed(cause)` once when the peer
/// went away, the stream failed, or fail() was called.
class FramedConnection : public std::enable_shared_from_this<FramedConnection> {
 public:
  using FrameHandler = std::function<FrameAction(FramedConnection&, const char* body, std::size_t size)>;
  using ClosedHandler = std::function<void(FramedConnection&, const std::string& cause)>;

  FramedConnection(std::unique_ptr<ByteStream> stream, FramedConnectionConfig config);
  /// A plain TCP connection.
  FramedConnection(TcpSocket socket, FramedConnectionConfig config);

  /// Sets the handlers and begins reading.
  void start(FrameHandler on_frame, ClosedHandler on_closed);

  /// Queues one frame: `u32 BE length(header_tail + body) | header_tail | body` (header_tail: at most 4 bytes).
  void write(const char* header_tail, std::size_t header_tail_size, std::vector<char> body);
  /// Queues a frame whose whole body is `body`.
  void write(std::vector<char> body) { write(nullptr, 0, std::move(body)); }

  /// Stops reading after the current frame.
  void pause() { paused_ = true; }
  /// Goes on with buffered frames, then reads again.
  void resume();

  /// The peer is trusted now (authenticated, or identified where no secret is set): frames up to `bytes`.
  void set_max_frame_bytes(std::uint32_t bytes);
  /// Changes the frame timeout (0: none), counting from now.
  void set_frame_timeout(std::chrono::milliseconds timeout);
  /// Keeps the listener's place while the connection lives; release_slot() gives it back earlier (a peer that
  /// became a cluster member no longer counts against the listener's limit for strangers).
  void hold(ListenerSlot slot) { slot_ = std::move(slot); }
  void release_slot() { slot_.release(); }

  /// Calls `done` once everything queued so far was written (or the connection closed).
  void when_flushed(std::function<void()> done);

  /// Closes without calling on_closed. Idempotent.
  void close();
  /// Warns "<prefix>: closing <kind> connection from <peer>: <what>", closes, and calls on_closed(what).
  void fail(const std::string& what);

  [[nodiscard]] const std::string& peer() const { return peer_; }
  [[nodiscard]] bool closed() const { return closed_; }
  /// Bytes the read buffer holds room for (tests check it stays small whatever a peer announces).
  [[nodiscard]] std::size_t buffer_capacity() const { return buffer_.capacity(); }
  /// Bytes of frames queued and not yet written.
  [[nodiscard]] std::size_t queued_bytes() const { return queued_bytes_; }

 private:
  struct Pending {
    std::array<char, 8> header{};
    std::size_t header_size = 0;
    std::vector<char> body;
  };
  using Timer =
      asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Strand>;

  void read();
  void on_read(const boost::system::error_code& error, std::size_t size);
  void parse();
  void write_queued();
  void on_written(const boost::system::error_code& error);
  void lost(const std::string& cause);
  void run_flushed();
  void arm_frame_timer();
  void on_frame_timer();

  std::unique_ptr<ByteStream> stream_;
  FramedConnectionConfig config_;
  std::string peer_;
  Timer frame_timer_;
  ListenerSlot slot_;
  FrameHandler on_frame_;
  ClosedHandler on_closed_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // unparsed input is buffer_[begin_, end_)
  std::size_t end_ = 0;
  std::size_t read_chunk_;
  std::chrono::steady_clock::time_point last_frame_{};
  std::deque<Pending> queue_;
  std::vector<asio::const_buffer> gathered_;
  std::size_t gathered_frames_ = 0;
  std::size_t queued_bytes_ = 0;
  std::vector<std::function<void()>> flushed_;
  std::optional<std::string> input_error_;  // the read side ended (EOF or error); reported once flushed
  bool reading_ = false;
  bool writing_ = false;
  bool paused_ = false;
  bool write_backlogged_ = false;  // not reading until the output queue drains below half of max_queued_bytes
  bool closed_ = false;
  bool timer_armed_ = false;
};

}  // namespace roo::core
