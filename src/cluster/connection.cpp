#include "connection.hpp"

#include "cluster_log.hpp"
#include "wire.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>

namespace roo::cluster {
namespace {

constexpr std::size_t read_chunk_bytes = 64 * 1024;
constexpr std::size_t max_gathered_frames = 64;

std::string describe_peer(const Socket& socket) {
  boost::system::error_code error;
  auto endpoint = socket.remote_endpoint(error);
  if (error) {
    return "an unknown peer";
  }
  return core::Endpoint{endpoint.address().to_string(), endpoint.port()}.to_string();
}

std::uint32_t read_u32(const char* p) {
  auto b = [&](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

}  // namespace

Connection::Connection(Socket socket, std::string kind, bool skip_empty_frames)
    : socket_(std::move(socket)),
      kind_(std::move(kind)),
      peer_(describe_peer(socket_)),
      skip_empty_frames_(skip_empty_frames),
      buffer_(read_chunk_bytes) {
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
}

void Connection::start(FrameHandler on_frame, ClosedHandler on_closed) {
  on_frame_ = std::move(on_frame);
  on_closed_ = std::move(on_closed);
  read();
}

void Connection::read() {
  if (reading_ || paused_ || closed_) {
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
  if (buffer_.size() - end_ < read_chunk_bytes / 4) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (buffer_.size() - end_ < read_chunk_bytes / 4) {
      buffer_.resize(end_ + read_chunk_bytes);
    }
  }
  reading_ = true;
  socket_.async_read_some(asio::buffer(buffer_.data() + end_, buffer_.size() - end_),
                          [self = shared_from_this()](const boost::system::error_code& error, std::size_t size) {
                            self->on_read(error, size);
                          });
}

void Connection::on_read(const boost::system::error_code& error, std::size_t size) {
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

void Connection::parse() {
  while (!paused_ && !closed_ && end_ - begin_ >= 4) {
    std::uint32_t length = read_u32(buffer_.data() + begin_);
    if (length > max_frame_bytes) {
      fail("frame of " + std::to_string(length) + " bytes exceeds the limit of " + std::to_string(max_frame_bytes) +
           " bytes");
      return;
    }
    if (length == 0) {
      if (!skip_empty_frames_) {
        fail("empty frame");
        return;
      }
      begin_ += 4;
      continue;
    }
    if (end_ - begin_ < 4 + std::size_t{length}) {
      if (buffer_.size() - begin_ < 4 + std::size_t{length}) {
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
        if (buffer_.size() < 4 + std::size_t{length}) {
          buffer_.resize(4 + std::size_t{length});
        }
      }
      return;
    }
    const char* body = buffer_.data() + begin_ + 4;
    begin_ += 4 + std::size_t{length};
    FrameAction action = on_frame_(*this, body, length);
    if (action == FrameAction::pause) {
      paused_ = true;
    }
  }
}

void Connection::resume() {
  if (!paused_ || closed_) {
    return;
  }
  paused_ = false;
  parse();
  read();
}

void Connection::write(const char* header_tail, std::size_t header_tail_size, std::vector<char> body) {
  if (closed_) {
    return;
  }
  Pending pending;
  auto length = static_cast<std::uint32_t>(header_tail_size + body.size());
  pending.header[0] = static_cast<char>(length >> 24);
  pending.header[1] = static_cast<char>(length >> 16);
  pending.header[2] = static_cast<char>(length >> 8);
  pending.header[3] = static_cast<char>(length);
  if (header_tail_size > 0) {
    std::memcpy(pending.header.data() + 4, header_tail, header_tail_size);
  }
  pending.header_size = 4 + header_tail_size;
  pending.body = std::move(body);
  queue_.push_back(std::move(pending));
  write_queued();
}

void Connection::write_queued() {
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
  asio::async_write(socket_, gathered_,
                    [self = shared_from_this()](const boost::system::error_code& error, std::size_t written) {
                      self->on_written(error, written);
                    });
}

void Connection::on_written(const boost::system::error_code& error, std::size_t) {
  writing_ = false;
  if (closed_) {
    return;
  }
  if (error) {
    lost(describe_error(error));
    return;
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(gathered_frames_));
  write_queued();
}

void Connection::when_flushed(std::function<void()> done) {
  flushed_.push_back(std::move(done));
  if (closed_ || (!writing_ && queue_.empty())) {
    run_flushed();
  }
}

void Connection::run_flushed() {
  auto callbacks = std::move(flushed_);
  flushed_.clear();
  for (auto& callback : callbacks) {
    callback();
  }
}

void Connection::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  queue_.clear();
  run_flushed();
}

void Connection::fail(const std::string& what) {
  if (closed_) {
    return;
  }
  cluster_logger()->warn("cluster: closing {} connection from {}: {}", kind_, peer_, what);
  lost(what);
}

void Connection::lost(const std::string& cause) {
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

}  // namespace roo::cluster
