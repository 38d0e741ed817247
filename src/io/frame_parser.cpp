#include "frame_parser.hpp"

#include <algorithm>

namespace roo::io {

FrameParser::FrameParser(LengthPrefix framing, std::size_t max_size, std::size_t batch_bytes)
    : framing_(framing), max_size_(max_size), batch_bytes_(std::max<std::size_t>(batch_bytes, 1)) {}

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

ParseOutcome FrameParser::parse(const char* data, std::size_t size, core::FrameBatch& batch) {
  const std::size_t header_length = framing_.header_length;
  std::size_t pos = 0;
  if (!carry_.empty()) {
    bool done = false;
    ParseOutcome outcome = finish_carry(data, size, batch, done);
    if (done) {
      return outcome;
    }
    pos = outcome.consumed;
  }
  for (;;) {
    std::size_t available = size - pos;
    if (available == 0) {
      return {pos, FrameResult::need_more};
    }
    if (batch.payload_bytes() >= batch_bytes_) {
      return {pos, FrameResult::batch_full};
    }
    if (available < header_length) {
      carry_.assign(data + pos, data + size);
      return {size, FrameResult::need_more};
    }
    std::size_t length = 0;
    if (!check_length(data + pos, length)) {
      return {pos, FrameResult::malformed};
    }
    if (available - header_length < length) {
      carry_.reserve(header_length + length);
      carry_.assign(data + pos, data + size);
      frame_bytes_ = header_length + length;
      return {size, FrameResult::need_more};
    }
    batch.append(data + pos + header_length, length);
    pos += header_length + length;
  }
}

}  // namespace roo::io
