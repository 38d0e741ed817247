#pragma once

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace roo::io {

/// A TCP sink's output, from the moment write() hands it over until the peer has it: buffers not yet written, and
/// buffers written to a socket but kept until the peer acknowledged them (plus a margin of acknowledged bytes the
/// peer may not have read yet). Positions are offsets in the sink's whole output stream, so they survive reconnects.
///
/// Buffers are whole write() buffers, each made of whole frames: a reconnect resends from the start of the oldest
/// buffer kept, so the new connection starts at a frame boundary. Not thread-safe: lives on the sink's strand.
class RetainedOutput {
 public:
  /// Keeps `bytes` (not yet written) at the end.
  void push(std::vector<char>&& bytes);

  /// Appends up to `max_buffers` buffers not yet written on this connection to `out` (which it clears first);
  /// returns how many.
  std::size_t gather(std::vector<boost::asio::const_buffer>& out, std::size_t max_buffers) const;

  /// The first `count` buffers not yet written went out whole.
  void mark_written(std::size_t count);

  /// The peer acknowledged the stream up to `acked`: drops the written buffers that end at or before
  /// `acked - margin`. Returns the bytes dropped.
  std::size_t release_acknowledged(std::uint64_t acked, std::size_t margin);

  /// A new connection: everything kept is written again, from the oldest buffer. Returns that buffer's position.
  std::uint64_t rewind();

  /// Drops everything; returns the bytes dropped.
  std::size_t clear();

  [[nodiscard]] std::uint64_t front_position() const { return front_position_; }
  [[nodiscard]] std::uint64_t write_position() const { return write_position_; }
  [[nodiscard]] std::uint64_t end_position() const { return front_position_ + bytes_; }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  [[nodiscard]] bool has_unwritten() const { return next_unwritten_ < buffers_.size(); }
  [[nodiscard]] bool empty() const { return buffers_.empty(); }

 private:
  std::deque<std::vector<char>> buffers_;  ///< oldest first
  std::size_t next_unwritten_ = 0;         ///< index in buffers_ of the first buffer not written on this connection
  std::uint64_t front_position_ = 0;       ///< stream position of buffers_.front()
  std::uint64_t write_position_ = 0;       ///< stream position of buffers_[next_unwritten_]
  std::size_t bytes_ = 0;                  ///< sum of buffers_' sizes
};

}  // namespace roo::io
