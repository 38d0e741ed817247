#include "roo/core/framed_connection.hpp"

#include "roo/core/big_endian.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cstring>

namespace roo::core {
namespace {

constexpr std::size_t untrusted_read_chunk_bytes = 4 * 1024;
constexpr std::size_t trusted_read_chunk_bytes = 64 * 1024;
constexpr std::size_t max_gathered_frames = 64;

}  // namespace

FramedConnection::FramedConnection(std::unique_ptr<ByteStream> stream, FramedConnectionConfig config)
    : stream_(std::move(stream)),
      config_(std::move(config)),
      peer_(stream_->remote()),
      frame_timer_(stream_->strand()),
      read_chunk_(config_.max_frame_bytes > untrusted_read_chunk_bytes ? trusted_read_chunk_bytes
                                                                       : untrusted_read_chunk_bytes) {
  buffer_.reserve(read_chunk_);
  buffer_.resize(read_chunk_);
}

FramedConnection::FramedConnection(TcpSocket socket, FramedConnectionConfig config)
    : FramedConnection(std::make_unique<TcpStream>(std::move(socket)), std::move(config)) {}

void FramedConnection::start(FrameHandler on_frame, ClosedHandler on_closed) {
  on_frame_ = std::move(on_frame);
  on_closed_ = std::move(on_closed);
  if (config_.frame_timeout.count() > 0) {
    last_frame_ = std::chrono::steady_clock::now();
    arm_frame_timer();
  }
  read();
}

void FramedConnection::set_max_frame_bytes(std::uint32_t bytes) {
  config_.max_frame_bytes = bytes;
  read_chunk_ = bytes > untrusted_read_chunk_bytes ? trusted_read_chunk_bytes : untrusted_read_chunk_bytes;
}

void FramedConnection::set_frame_timeout(std::chrono::milliseconds timeout) {
  config_.frame_timeout = timeout;
  last_frame_ = std::chrono::steady_clock::now();
  if (timeout.count() == 0) {
    frame_timer_.cancel();
  } else if (!closed_) {
    arm_frame_timer();
  }
}

void FramedConnection::arm_frame_timer() {
  frame_timer_.expires_at(last_frame_ + config_.frame_timeout);
  if (timer_armed_) {
    return;  // the wait in progress was cancelled by expires_at and re-waits in on_frame_timer
  }
  timer_armed_ = true;
  frame_timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
    self->timer_armed_ = false;
    self->on_frame_timer();
  });
}

void FramedConnection::on_frame_timer() {
  if (closed_ || config_.frame_timeout.count() == 0) {
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (paused_) {
    last_frame_ = now;  // waiting on us, not on the peer
  }
  if (now - last_frame_ >= config_.frame_timeout) {
    double seconds = static_cast<double>(config_.frame_timeout.count()) / 1000.0;
    if (write_backlogged_) {
      fail(fmt::format("it did not read its answers ({} bytes queued) within {:g} s", queued_bytes_, seconds));
      return;
    }
    fail(fmt::format("no complete frame within {:g} s", seconds));
    return;
  }
  arm_frame_timer();
}

void FramedConnection::read() {
  if (reading_ || paused_ || write_backlogged_ || closed_) {
    return;
  }
  if (input_error_) {
    // What arrived before the end has been handled; let the answers already queued go out, then report.
    when_flushed([self = shared_from_this()] { self->lost(*self->input_error_); });
    return;
  }
  if (begin_ == end_) {
    begin_ = end_ = 0;
  }
  if (buffer_.size() - end_ < read_chunk_ / 4) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (buffer_.size() - end_ < read_chunk_ / 4) {
      // Received bytes of one unfinished frame fill the buffer: it grows with them, never by the announced length.
      std::size_t size = std::max(buffer_.size() * 2, end_ + read_chunk_);
      buffer_.reserve(size);
      buffer_.resize(size);
    }
  }
  reading_ = true;
  stream_->async_read_some(asio::buffer(buffer_.data() + end_, buffer_.size() - end_),
                           [self = shared_from_this()](const boost::system::error_code& error, std::size_t size) {
                             self->on_read(error, size);
                           });
}

void FramedConnection::on_read(const boost::system::error_code& error, std::size_t size) {
  reading_ = false;
  if (closed_) {
    return;
  }
  end_ += size;
  if (error) {
    input_error_ = describe_error(error);
  }
  parse();
  read();
}

void FramedConnection::parse() {
  while (!paused_ && !write_backlogged_ && !closed_ && end_ - begin_ >= 4) {
    std::uint32_t length = load_u32_be(buffer_.data() + begin_);
    if (length > config_.max_frame_bytes) {
      fail("frame of " + std::to_string(length) + " bytes exceeds the limit of " +
           std::to_string(config_.max_frame_bytes) + " bytes");
      return;
    }
    if (length == 0) {
      if (!config_.skip_empty_frames) {
        fail("empty frame");
        return;
      }
      begin_ += 4;
      continue;
    }
    if (end_ - begin_ < 4 + std::size_t{length}) {
      return;
    }
    const char* body = buffer_.data() + begin_ + 4;
    begin_ += 4 + std::size_t{length};
    if (config_.frame_timeout.count() > 0) {
      last_frame_ = std::chrono::steady_clock::now();
    }
    FrameAction action = on_frame_(*this, body, length);
    if (action == FrameAction::pause) {
      paused_ = true;
    }
  }
}

void FramedConnection::resume() {
  if (!paused_ || closed_) {
    return;
  }
  paused_ = false;
  parse();
  read();
}

void FramedConnection::write(const char* header_tail, std::size_t header_tail_size, std::vector<char> body) {
  if (closed_) {
    return;
  }
  Pending pending;
  store_u32_be(pending.header.data(), static_cast<std::uint32_t>(header_tail_size + body.size()));
  if (header_tail_size > 0) {
    std::memcpy(pending.header.data() + 4, header_tail, std::min<std::size_t>(header_tail_size, 4));
  }
  pending.header_size = 4 + std::min<std::size_t>(header_tail_size, 4);
  pending.body = std::move(body);
  queued_bytes_ += pending.header_size + pending.body.size();
  queue_.push_back(std::move(pending));
  if (config_.max_queued_bytes > 0 && queued_bytes_ > config_.max_queued_bytes) {
    write_backlogged_ = true;  // the peer does not read what we answer: stop reading what it sends
  }
  write_queued();
}

void FramedConnection::write_queued() {
  if (writing_ || closed_) {
    return;
  }
  if (queue_.empty()) {
    run_flushed();
    return;
  }
  gathered_.clear();
  gathered_frames_ = std::min(queue_.size(), max_gathered_frames);
  for (std::size_t i = 0; i < gathered_frames_; ++i) {
    gathered_.push_back(asio::buffer(queue_[i].header.data(), queue_[i].header_size));
    if (!queue_[i].body.empty()) {
      gathered_.push_back(asio::buffer(queue_[i].body));
    }
  }
  writing_ = true;
  stream_->async_write(gathered_, [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
    self->on_written(error);
  });
}

void FramedConnection::on_written(const boost::system::error_code& error) {
  writing_ = false;
  if (closed_) {
    return;
  }
  if (error) {
    lost(describe_error(error));
    return;
  }
  for (std::size_t i = 0; i < gathered_frames_; ++i) {
    queued_bytes_ -= queue_[i].header_size + queue_[i].body.size();
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(gathered_frames_));
  write_queued();
  if (write_backlogged_ && queued_bytes_ <= config_.max_queued_bytes / 2) {
    write_backlogged_ = false;
    parse();
    read();
  }
}

void FramedConnection::when_flushed(std::function<void()> done) {
  flushed_.push_back(std::move(done));
  if (closed_ || (!writing_ && queue_.empty())) {
    run_flushed();
  }
}

void FramedConnection::run_flushed() {
  auto callbacks = std::move(flushed_);
  flushed_.clear();
  for (auto& callback : callbacks) {
    callback();
  }
}

void FramedConnection::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  stream_->close();
  frame_timer_.cancel();
  slot_.release();
  queue_.clear();
  queued_bytes_ = 0;
  run_flushed();
}

void FramedConnection::fail(const std::string& what) {
  if (closed_) {
    return;
  }
  config_.logger->warn("{}: closing {} connection from {}: {}", config_.log_prefix, config_.kind, peer_, what);
  lost(what);
}

void FramedConnection::lost(const std::string& cause) {
  if (closed_) {
    return;
  }
  close();
  if (on_closed_) {
    auto on_closed = std::move(on_closed_);
    on_closed_ = nullptr;
    on_closed(*this, cause);
  }
}

}  // namespace roo::core
