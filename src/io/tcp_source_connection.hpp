#pragma once

#include "frame_parser.hpp"

#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/frame_batch.hpp"
#include "roo/io/tcp_source.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace roo::io {

namespace asio = boost::asio;

/// One accepted client of a TcpSource: reads large chunks, cuts them into frames with a FrameParser and hands
/// each batch to the mailbox. When the mailbox is full it keeps the batch and the unparsed bytes, stops reading,
/// and resumes when the mailbox's room callback fires. Runs on its own strand; shared_ptr because Asio handlers
/// and the mailbox's room callback (weakly) must reach it after the source has let go.
/// Lifecycle: construct → start() → (EOF, error, malformed frame, no complete frame within idle_timeout, or stop())
/// → hands over what it parsed → calls on_finished on its strand, once.
///
/// Idle timeout: a connection that has not completed a frame yet, or is in the middle of one, is closed once no
/// frame completed for config.idle_timeout (a client that connects and sends nothing, or trickles a frame: a
/// slow loris). A connection between frames after at least one complete frame is closed for idleness only while the
/// source is at its connection limit, after twice that time: senders may pause for long, as Wallaroo allowed, but an
/// idle one cannot keep a waiting client out for ever. A 1-second tick (a timer on its strand) checks; reads only bump a counter.
class TcpSourceConnection : public std::enable_shared_from_this<TcpSourceConnection> {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;
  using Socket = asio::basic_stream_socket<asio::ip::tcp, Strand>;

  /// `channel`: the connection's number within its source, stamped on each of its batches (FrameBatch::channel).
  /// `source_at_limit`: set by the source while every slot is taken (see the idle timeout above).
  TcpSourceConnection(Socket socket, std::uint32_t channel, std::shared_ptr<const TcpSourceConfig> config,
                      std::shared_ptr<const std::atomic<bool>> source_at_limit,
                      core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool,
                      std::function<void(TcpSourceConnection*)> on_finished);

  /// Begins reading. Any thread.
  void start();
  /// Stops reading, hands over every frame already received, then finishes. Any thread; idempotent.
  void stop();

  [[nodiscard]] const std::string& peer() const { return peer_; }
  /// True when the connection was closed for bad input: a malformed frame, or no complete frame in time. Read it
  /// in on_finished.
  [[nodiscard]] bool was_refused() const { return malformed_ || timed_out_; }

 private:
  enum class HandOver { accepted, wait_for_room, mailbox_closed };

  void read();
  void on_read(const boost::system::error_code& error, std::size_t size);
  void pump();
  HandOver hand_over();
  void on_room();
  void finish();
  void warn_malformed() const;
  void warn_truncated() const;
  void arm_idle_check();
  void check_idle();
  void close_idle();

  using Timer =
      asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Strand>;

  Socket socket_;
  std::shared_ptr<const TcpSourceConfig> config_;
  std::shared_ptr<const std::atomic<bool>> source_at_limit_;
  core::BoundedMailbox<core::FrameBatch>& mailbox_;
  core::BatchPool& pool_;
  std::function<void(TcpSourceConnection*)> on_finished_;
  std::string peer_;
  std::uint32_t channel_;
  FrameParser parser_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // unparsed input is buffer_[begin_, end_)
  std::size_t end_ = 0;
  core::FrameBatch batch_;
  // Copied into every room callback: after a refused push, a use count above one proves the mailbox kept the
  // callback (it was full), while one means it was closed and will never call back. Renewed after each wake-up.
  std::shared_ptr<char> room_token_;
  Timer idle_timer_;
  std::uint64_t progress_ = 0;       // bumped by a read that completed a frame or started one at a boundary
  std::uint64_t progress_seen_ = 0;  // progress_ at the idle check that last saw it change
  std::chrono::steady_clock::time_point progress_at_;
  bool completed_a_frame_ = false;
  bool timed_out_ = false;
  bool input_done_ = false;  // EOF, error, malformed frame or stop: read no more
  bool malformed_ = false;
  bool stopping_ = false;
  bool waiting_for_room_ = false;
  bool finished_ = false;
};

}  // namespace roo::io
