#include "send_log.hpp"

#include "send_errno.hpp"

#include "roo/core/error.hpp"

#include <cerrno>
#include <charconv>

namespace roo::cli {

SentLog::SentLog(std::string path) : path_(std::move(path)) {
  file_ = std::fopen(path_.c_str(), "wb");
  if (file_ == nullptr) {
    throw core::Error("create " + path_ + " (pass --no-write to skip it): " + errno_text(errno));
  }
}

SentLog::~SentLog() {
  if (file_ != nullptr) {
    if (!buffer_.empty()) {
      std::fwrite(buffer_.data(), 1, buffer_.size(), file_);
    }
    std::fclose(file_);
  }
}

void SentLog::start_batch(std::uint64_t wallclock_ns) {
  char* end = std::to_chars(stamp_, stamp_ + 20, wallclock_ns).ptr;
  *end++ = ',';
  *end++ = ' ';
  stamp_size_ = static_cast<std::size_t>(end - stamp_);
}

void SentLog::flush() {
  if (buffer_.empty()) {
    return;
  }
  std::size_t size = buffer_.size();
  std::size_t written = std::fwrite(buffer_.data(), 1, size, file_);
  buffer_.clear();
  if (written != size || std::fflush(file_) != 0) {
    throw core::Error("write " + path_ + ": " + errno_text(errno));
  }
}

}  // namespace roo::cli
