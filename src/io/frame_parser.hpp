#pragma once

#include "roo/core/frame_batch.hpp"
#include "roo/io/length_prefix.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace roo::io {

/// What FrameParser::parse stopped on.
enum class FrameResult {
  need_more,   ///< every input byte was consumed; a partial frame (if any) is kept for the next call
  batch_full,  ///< the batch reached batch_bytes at a frame boundary; bytes from `consumed` on are not parsed yet
  malformed,   ///< the next frame announces a length over max_size (or a negative one); nothing after it is parsed
};

struct ParseOutcome {
  std::size_t consumed = 0;  ///< input bytes used (complete frames, plus a kept partial frame on need_more)
  FrameResult result = FrameResult::need_more;
};

/// Cuts a length-prefixed byte stream into payloads, appended to a core::FrameBatch with one copy each and
/// no allocation per frame. Incremental: a frame (or just its header) split across reads is kept in a small
/// carry buffer and completed by the next call. Wallaroo's usual framing (">I": a 4-byte big-endian unsigned
/// length and nothing else) has its own loop; every other LengthPrefix goes through LengthPrefix::read.
/// One parser per connection; not thread-safe.
class FrameParser {
 public:
  FrameParser(LengthPrefix framing, std::size_t max_size, std::size_t batch_bytes);

  /// Appends the complete frames of data[0, size) to `batch`, stopping early at a frame boundary once the batch
  /// holds batch_bytes or more payload bytes, or before a malformed frame.
  [[nodiscard]] ParseOutcome parse(const char* data, std::size_t size, core::FrameBatch& batch);

  /// True when bytes of an unfinished frame are kept.
  [[nodiscard]] bool is_mid_frame() const { return !carry_.empty(); }
  /// True when the kept partial frame's header is complete (so frame_bytes() is known).
  [[nodiscard]] bool has_header() const { return carry_.size() >= framing_.header_length; }
  /// Bytes of the unfinished frame received so far, header included.
  [[nodiscard]] std::size_t partial_bytes() const { return carry_.size(); }
  /// Size of the unfinished frame, header included (valid when has_header()).
  [[nodiscard]] std::size_t frame_bytes() const { return frame_bytes_; }
  /// After FrameResult::malformed: the announced length, or -1 when the header announced a negative one.
  [[nodiscard]] std::int64_t malformed_length() const { return malformed_length_; }
  [[nodiscard]] const LengthPrefix& framing() const { return framing_; }
  /// Memory held for an unfinished frame: grows with the bytes received, never with the announced length.
  [[nodiscard]] std::size_t held_bytes() const { return carry_.capacity(); }

 private:
  bool check_length(const char* header, std::size_t& length);
  ParseOutcome finish_carry(const char* data, std::size_t size, core::FrameBatch& batch, bool& done);
  ParseOutcome parse_be32(const char* data, std::size_t pos, std::size_t size, core::FrameBatch& batch);
  ParseOutcome parse_general(const char* data, std::size_t pos, std::size_t size, core::FrameBatch& batch);
  ParseOutcome keep_header(const char* data, std::size_t pos, std::size_t size);
  ParseOutcome keep_frame(const char* data, std::size_t pos, std::size_t size, std::size_t frame_bytes);

  LengthPrefix framing_;
  bool be32_;  // framing_ is ">I": header_length 4, big-endian unsigned 32-bit length at offset 0
  std::size_t max_size_;
  std::size_t batch_bytes_;
  std::vector<char> carry_;      // an unfinished frame, header included
  std::size_t frame_bytes_ = 0;  // header + payload of the carried frame, once its header is complete
  std::int64_t malformed_length_ = 0;
};

}  // namespace roo::io
