#include "tcp_source_connection.hpp"

#include "io_log.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

namespace roo::io {
namespace {

constexpr std::size_t read_buffer_bytes = 128 * 1024;

std::string describe_peer(const TcpSourceConnection::Socket& socket) {
  boost::system::error_code error;
  auto endpoint = socket.remote_endpoint(error);
  if (error) {
    return "an unknown peer";
  }
  core::Endpoint peer{endpoint.address().to_string(), endpoint.port()};
  return peer.to_string();
}

}  // namespace

TcpSourceConnection::TcpSourceConnection(Socket socket, std::uint32_t channel,
                                         std::shared_ptr<const TcpSourceConfig> config,
                                         std::shared_ptr<const std::atomic<bool>> source_at_limit,
                                         core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool,
                                         std::function<void(TcpSourceConnection*)> on_finished)
    : socket_(std::move(socket)),
      config_(std::move(config)),
      source_at_limit_(std::move(source_at_limit)),
      mailbox_(mailbox),
      pool_(pool),
      on_finished_(std::move(on_finished)),
      peer_(describe_peer(socket_)),
      channel_(channel),
      parser_(config_->framing, config_->max_size, config_->batch_bytes),
      buffer_(read_buffer_bytes),
      batch_(pool_.acquire()),
      room_token_(std::make_shared<char>()),
      idle_timer_(socket_.get_executor()),
      progress_at_(std::chrono::steady_clock::now()) {
  batch_.source = config_->source_index;
  batch_.channel = channel_;
}

void TcpSourceConnection::start() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    io_logger()->debug("tcp_source '{}': accepted a connection from {}", self->config_->name, self->peer_);
    self->arm_idle_check();
    self->read();
  });
}

void TcpSourceConnection::stop() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->finished_ || self->stopping_) {
      return;
    }
    self->stopping_ = true;
    self->input_done_ = true;
    // A pending read completes with operation_aborted and pumps; a connection waiting for room pumps when
    // the room callback fires. Either way what was received is handed over before finishing.
    boost::system::error_code ignored;
    self->socket_.cancel(ignored);
  });
}

void TcpSourceConnection::read() {
  socket_.async_read_some(asio::buffer(buffer_),
                          [self = shared_from_this()](const boost::system::error_code& error, std::size_t size) {
                            self->on_read(error, size);
                          });
}

void TcpSourceConnection::on_read(const boost::system::error_code& error, std::size_t size) {
  if (!error) {
    begin_ = 0;
    end_ = size;
    if (!parser_.is_mid_frame()) {
      ++progress_;  // a frame starts here: its time runs from now
    }
  } else {
    input_done_ = true;
    if (!stopping_ && parser_.is_mid_frame()) {
      warn_truncated();
    } else if (!stopping_ && error != asio::error::eof) {
      io_logger()->debug("tcp_source '{}': connection from {} ended: {}", config_->name, peer_, error.message());
    }
  }
  pump();
}

// Parses what was read and hands batches over until the input is used up, then reads again (or finishes).
// Returns early, keeping the batch and the unparsed bytes, when the mailbox is full.
void TcpSourceConnection::pump() {
  for (;;) {
    if (begin_ < end_) {
      std::size_t frames_before = batch_.size();
      ParseOutcome outcome = parser_.parse(buffer_.data() + begin_, end_ - begin_, batch_);
      begin_ += outcome.consumed;
      if (batch_.size() > frames_before) {
        completed_a_frame_ = true;
        ++progress_;
      }
      if (outcome.result == FrameResult::malformed) {
        warn_malformed();
        malformed_ = true;
        input_done_ = true;
        begin_ = end_;
      }
    }
    if (!batch_.empty()) {
      HandOver result = hand_over();
      if (result == HandOver::wait_for_room) {
        waiting_for_room_ = true;
        return;
      }
      if (result == HandOver::mailbox_closed) {
        io_logger()->warn("tcp_source '{}': the executor's mailbox is closed; discarding {} frames from {}",
                          config_->name, batch_.size(), peer_);
        batch_.clear();
        input_done_ = true;
        begin_ = end_;
      }
    }
    if (begin_ >= end_) {
      break;
    }
  }
  if (input_done_) {
    finish();
  } else {
    read();
  }
}

TcpSourceConnection::HandOver TcpSourceConnection::hand_over() {
  std::weak_ptr<TcpSourceConnection> weak = weak_from_this();
  auto on_room = [weak, token = room_token_] {
    if (auto self = weak.lock()) {
      asio::post(self->socket_.get_executor(), [self] { self->on_room(); });
    }
  };
  batch_.received_ns = core::steady_clock_ns();
  switch (mailbox_.try_push(batch_, std::move(on_room))) {
    case core::PushResult::accepted:
      batch_ = pool_.acquire();
      batch_.source = config_->source_index;
      batch_.channel = channel_;
      return HandOver::accepted;
    case core::PushResult::full:
      return HandOver::wait_for_room;
    case core::PushResult::closed:
      break;
  }
  return HandOver::mailbox_closed;
}

void TcpSourceConnection::on_room() {
  if (!waiting_for_room_) {
    return;
  }
  waiting_for_room_ = false;
  room_token_ = std::make_shared<char>();  // older copies may still sit in the consumer's wake-up list
  pump();
}

void TcpSourceConnection::finish() {
  if (finished_) {
    return;
  }
  finished_ = true;
  idle_timer_.cancel();
  boost::system::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  pool_.release(std::move(batch_));
  io_logger()->debug("tcp_source '{}': connection from {} closed", config_->name, peer_);
  auto on_finished = std::move(on_finished_);
  on_finished(this);
}

void TcpSourceConnection::arm_idle_check() {
  if (config_->idle_timeout.count() <= 0 || finished_) {
    return;
  }
  // A tick of a quarter of the timeout (10 ms to 1 s): a connection is closed at most 25 % late.
  std::chrono::milliseconds tick = std::clamp<std::chrono::milliseconds>(
      config_->idle_timeout / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  idle_timer_.expires_after(tick);
  idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (!error) {
      self->check_idle();
    }
  });
}

void TcpSourceConnection::check_idle() {
  if (finished_ || input_done_) {
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (progress_ != progress_seen_ || waiting_for_room_) {  // waiting for the executor is not the client's fault
    progress_seen_ = progress_;
    progress_at_ = now;
  } else if (completed_a_frame_ && !parser_.is_mid_frame()) {
    // Resting between frames: only a full source takes the place back, and only after twice the timeout (clients
    // that never sent a frame, or trickle one, go first).
    if (source_at_limit_->load(std::memory_order_relaxed) && now - progress_at_ >= 2 * config_->idle_timeout) {
      io_logger()->warn(
          "tcp_source '{}': closing connection from {}: idle between frames for {} s while the source is at its "
          "limit of {} connections",
          config_->name, peer_, std::chrono::duration<double>(2 * config_->idle_timeout).count(),
          config_->max_connections);
      close_idle();
      return;
    }
  } else if (now - progress_at_ >= config_->idle_timeout) {
    auto seconds = std::chrono::duration<double>(config_->idle_timeout).count();
    if (parser_.is_mid_frame()) {
      io_logger()->warn(
          "tcp_source '{}': closing connection from {}: no complete frame in {} s ({} bytes of an unfinished frame "
          "discarded)",
          config_->name, peer_, seconds, parser_.partial_bytes());
    } else {
      io_logger()->warn("tcp_source '{}': closing connection from {}: no complete frame in {} s", config_->name, peer_,
                        seconds);
    }
    close_idle();
    return;
  }
  arm_idle_check();
}

void TcpSourceConnection::close_idle() {
  timed_out_ = true;
  stopping_ = true;  // hand over what it parsed, then finish; no "closed mid-frame" warning on top
  input_done_ = true;
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

void TcpSourceConnection::warn_malformed() const {
  if (parser_.malformed_length() < 0) {
    io_logger()->warn("tcp_source '{}': closing connection from {}: frame header announces a negative length",
                      config_->name, peer_);
    return;
  }
  io_logger()->warn("tcp_source '{}': closing connection from {}: frame of {} bytes exceeds max_size {}", config_->name,
                    peer_, parser_.malformed_length(), config_->max_size);
}

void TcpSourceConnection::warn_truncated() const {
  if (!parser_.has_header()) {
    io_logger()->warn(
        "tcp_source '{}': connection from {} closed mid-frame ({} of {} header bytes); partial frame "
        "discarded",
        config_->name, peer_, parser_.partial_bytes(), parser_.framing().header_length);
    return;
  }
  io_logger()->warn("tcp_source '{}': connection from {} closed mid-frame ({} of {} bytes); partial frame discarded",
                    config_->name, peer_, parser_.partial_bytes(), parser_.frame_bytes());
}

}  // namespace roo::io
