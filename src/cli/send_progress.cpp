#include "send_progress.hpp"

#include <cstdio>
#include <unistd.h>

namespace roo::cli {

double monotonic_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

SendProgress::SendProgress(std::uint64_t total)
    : enabled_(::isatty(STDERR_FILENO) == 1), total_(total), start_s_(monotonic_seconds()), last_draw_s_(start_s_) {}

void SendProgress::maybe_draw(std::uint64_t sent) {
  double now = monotonic_seconds();
  if (now - last_draw_s_ < 0.25) {
    return;
  }
  last_draw_s_ = now;
  double rate = static_cast<double>(sent) / (now - start_s_);
  if (total_ != 0) {
    double eta = rate > 0 ? static_cast<double>(total_ - sent) / rate : 0;
    std::fprintf(stderr, "\r\033[Kroo send: %llu of %llu messages (%.1f%%), %.0f msg/s, ETA %.0f s",
                 static_cast<unsigned long long>(sent), static_cast<unsigned long long>(total_),
                 100.0 * static_cast<double>(sent) / static_cast<double>(total_), rate, eta);
  } else {
    std::fprintf(stderr, "\r\033[Kroo send: %llu messages, %.0f msg/s", static_cast<unsigned long long>(sent), rate);
  }
  std::fflush(stderr);
  drawn_ = true;
}

void SendProgress::finish() {
  if (drawn_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace roo::cli
