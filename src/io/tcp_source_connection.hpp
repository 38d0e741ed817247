#pragma once

#include "frame_parser.hpp"

#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/frame_batch.hpp"
#include "roo/io/tcp_source.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

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
/// Lifecycle: construct → start() → (EOF, error, malformed frame or stop()) → hands over what it parsed →
/// calls on_finished on its strand, once.
class TcpSourceConnection : public std::enable_shared_from_this<TcpSourceConnection> {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;
  using Socket = asio::basic_stream_socket<asio::ip::tcp, Strand>;

  TcpSourceConnection(Socket socket, std::shared_ptr<const TcpSourceConfig> config,
                      core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool,
                      std::function<void(TcpSourceConnection*)> on_finished);

  /// Begins reading. Any thread.
  void start();
  /// Stops reading, hands over every frame already received, then finishes. Any thread; idempotent.
  void stop();

  [[nodiscard]] const std::string& peer() const { return peer_; }

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

  Socket socket_;
  std::shared_ptr<const TcpSourceConfig> config_;
  core::BoundedMailbox<core::FrameBatch>& mailbox_;
  core::BatchPool& pool_;
  std::function<void(TcpSourceConnection*)> on_finished_;
  std::string peer_;
  FrameParser parser_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // unparsed input is buffer_[begin_, end_)
  std::size_t end_ = 0;
  core::FrameBatch batch_;
  // Copied into every room callback: after a refused push, a use count above one proves the mailbox kept the
  // callback (it was full), while one means it was closed and will never call back. Renewed after each wake-up.
  std::shared_ptr<char> room_token_;
  bool input_done_ = false;  // EOF, error, malformed frame or stop: read no more
  bool malformed_ = false;
  bool stopping_ = false;
  bool waiting_for_room_ = false;
  bool finished_ = false;
};

}  // namespace roo::io
