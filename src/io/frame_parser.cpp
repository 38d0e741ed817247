#include "frame_parser.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace roo::io {
namespace {

bool is_be32(const LengthPrefix& framing) {
  return framing.header_length == 4 && framing.field_offset == 0 && framing.field_width == 4 && framing.big_endian &&
         !framing.is_signed;
}

}  // namespace

FrameParser::FrameParser(LengthPrefix framing, std::size_t max_size, std::size_t batch_bytes)
    : framing_(framing),
      be32_(is_be32(framing)),
      max_size_(max_size),
      batch_bytes_(std::max<std::size_t>(batch_bytes, 1)) {}

bool FrameParser::check_length(const char* header, std::size_t& length) {
  std::optional<std::uint64_t> announced = framing_.read(header);
  if (!announced) {
    malformed_length_ = -1;
    return false;
  }
  if (*announced > max_size_) {
    malformed_length_ = static_cast<std::int64_t>(std::min<std::uint64_t>(*announced, INT64_MAX));
    return false;
  }
  length = static_cast<std::size_t>(*announced);
  return true;
}

// Completes the carried frame from the start of `data`. Sets `done` when the caller must return the outcome.
ParseOutcome FrameParser::finish_carry(const char* data, std::size_t size, core::FrameBatch& batch, bool& done) {
  const std::size_t header_length = framing_.header_length;
  std::size_t pos = 0;
  done = true;
  if (carry_.size() < header_length) {
    std::size_t take = std::min(header_length - carry_.size(), size);
    carry_.insert(carry_.end(), data, data + take);
    pos += take;
    if (carry_.size() < header_length) {
      return {pos, FrameResult::need_more};
    }
    std::size_t length = 0;
    if (!check_length(carry_.data(), length)) {
      // The header bytes taken from this input belong to the malformed frame: report them as not consumed.
      return {0, FrameResult::malformed};
    }
    frame_bytes_ = header_length + length;
  }
  std::size_t take = std::min(frame_bytes_ - carry_.size(), size - pos);
  carry_.insert(carry_.end(), data + pos, data + pos + take);
  pos += take;
  if (carry_.size() < frame_bytes_) {
    return {pos, FrameResult::need_more};
  }
  batch.append(carry_.data() + header_length, frame_bytes_ - header_length);
  carry_.clear();
  done = false;
  return {pos, FrameResult::need_more};
}

// Keeps data[pos, size), an incomplete header, for the next call.
ParseOutcome FrameParser::keep_header(const char* data, std::size_t pos, std::size_t size) {
  carry_.assign(data + pos, data + size);
  return {size, FrameResult::need_more};
}

// Keeps data[pos, size), the start of a frame of frame_bytes bytes (header included), for the next call. The carry
// grows with the bytes that arrive, never by the announced length: a header alone must not make the worker allocate
// max_size bytes (a peer could hold many connections that each announce it and send nothing more).
ParseOutcome FrameParser::keep_frame(const char* data, std::size_t pos, std::size_t size, std::size_t frame_bytes) {
  carry_.assign(data + pos, data + size);
  frame_bytes_ = frame_bytes;
  return {size, FrameResult::need_more};
}

ParseOutcome FrameParser::parse(const char* data, std::size_t size, core::FrameBatch& batch) {
  std::size_t pos = 0;
  if (!carry_.empty()) {
    bool done = false;
    ParseOutcome outcome = finish_carry(data, size, batch, done);
    if (done) {
      return outcome;
    }
    pos = outcome.consumed;
  }
  return be32_ ? parse_be32(data, pos, size, batch) : parse_general(data, pos, size, batch);
}

// The general loop: any LengthPrefix, the length read by LengthPrefix::read.
ParseOutcome FrameParser::parse_general(const char* data, std::size_t pos, std::size_t size, core::FrameBatch& batch) {
  const std::size_t header_length = framing_.header_length;
  for (;;) {
    std::size_t available = size - pos;
    if (available == 0) {
      return {pos, FrameResult::need_more};
    }
    if (batch.payload_bytes() >= batch_bytes_) {
      return {pos, FrameResult::batch_full};
    }
    if (available < header_length) {
      return keep_header(data, pos, size);
    }
    std::size_t length = 0;
    if (!check_length(data + pos, length)) {
      return {pos, FrameResult::malformed};
    }
    if (available - header_length < length) {
      return keep_frame(data, pos, size, header_length + length);
    }
    batch.append_overreading(data + pos + header_length, length, available - header_length);
    pos += header_length + length;
  }
}

// The same loop for ">I" with the length read inline (one load and a byte swap) and the payload bytes counted
// here rather than read back from the batch: the per-event cost of nearly every source.
ParseOutcome FrameParser::parse_be32(const char* data, std::size_t pos, std::size_t size, core::FrameBatch& batch) {
  constexpr std::size_t header_length = 4;
  const std::size_t batch_bytes = batch_bytes_;
  const std::size_t max_size = max_size_;
  std::size_t payload_bytes = batch.payload_bytes();
  for (;;) {
    const std::size_t available = size - pos;
    if (available < header_length) {
      // The rare cases, in the general loop's order: nothing left, batch full, a partial header.
      if (available == 0) {
        return {pos, FrameResult::need_more};
      }
      if (payload_bytes >= batch_bytes) {
        return {pos, FrameResult::batch_full};
      }
      return keep_header(data, pos, size);
    }
    if (payload_bytes >= batch_bytes) {
      return {pos, FrameResult::batch_full};
    }
    std::uint32_t raw = 0;
    std::memcpy(&raw, data + pos, sizeof raw);
    const std::size_t length = std::endian::native == std::endian::little ? __builtin_bswap32(raw) : raw;
    if (length > max_size) {
      malformed_length_ = static_cast<std::int64_t>(length);
      return {pos, FrameResult::malformed};
    }
    if (available - header_length < length) {
      return keep_frame(data, pos, size, header_length + length);
    }
    batch.append_overreading(data + pos + header_length, length, available - header_length, payload_bytes);
    payload_bytes += length;
    pos += header_length + length;
  }
}

}  // namespace roo::io
