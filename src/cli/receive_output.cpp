#include "receive_output.hpp"

#include "send_errno.hpp"

#include "roo/core/error.hpp"

#include <cerrno>
#include <poll.h>
#include <unistd.h>

namespace roo::cli {

ReceiveOutput::ReceiveOutput(int fd, std::size_t capacity)
    : fd_(fd), buffer_(std::make_unique_for_overwrite<char[]>(capacity)), capacity_(capacity) {}

void ReceiveOutput::write_out(const char* bytes, std::size_t size) {
  while (size > 0) {
    ssize_t written = ::write(fd_, bytes, size);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN) {  // a non-blocking stdout inherited from the parent: wait until it drains
        pollfd waiting{fd_, POLLOUT, 0};
        ::poll(&waiting, 1, -1);
        continue;
      }
      throw core::Error("write to stdout: " + errno_text(errno));
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
}

}  // namespace roo::cli
