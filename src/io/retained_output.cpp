#include "retained_output.hpp"

#include <algorithm>

namespace roo::io {

void RetainedOutput::push(std::vector<char>&& bytes) {
  bytes_ += bytes.size();
  buffers_.push_back(std::move(bytes));
}

std::size_t RetainedOutput::gather(std::vector<boost::asio::const_buffer>& out, std::size_t max_buffers) const {
  out.clear();
  std::size_t end = std::min(buffers_.size(), next_unwritten_ + max_buffers);
  for (std::size_t i = next_unwritten_; i < end; ++i) {
    out.push_back(boost::asio::buffer(buffers_[i]));
  }
  return out.size();
}

void RetainedOutput::mark_written(std::size_t count) {
  for (std::size_t i = 0; i < count && next_unwritten_ < buffers_.size(); ++i) {
    write_position_ += buffers_[next_unwritten_].size();
    ++next_unwritten_;
  }
}

std::size_t RetainedOutput::release_acknowledged(std::uint64_t acked, std::size_t margin) {
  if (acked <= margin) {
    return 0;
  }
  std::uint64_t keep_from = acked - margin;
  std::size_t released = 0;
  while (next_unwritten_ > 0 && front_position_ + buffers_.front().size() <= keep_from) {
    std::size_t size = buffers_.front().size();
    front_position_ += size;
    released += size;
    buffers_.pop_front();
    --next_unwritten_;
  }
  bytes_ -= released;
  return released;
}

std::uint64_t RetainedOutput::rewind() {
  next_unwritten_ = 0;
  write_position_ = front_position_;
  return front_position_;
}

std::size_t RetainedOutput::clear() {
  std::size_t released = bytes_;
  front_position_ += bytes_;
  write_position_ = front_position_;
  buffers_.clear();
  next_unwritten_ = 0;
  bytes_ = 0;
  return released;
}

}  // namespace roo::io
