#include "unacknowledged_bytes.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>

namespace roo::io {

std::optional<std::size_t> read_unacknowledged_bytes(int fd) {
  int unacknowledged = 0;
  if (::ioctl(fd, SIOCOUTQ, &unacknowledged) != 0 || unacknowledged < 0) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(unacknowledged);
}

}  // namespace roo::io
