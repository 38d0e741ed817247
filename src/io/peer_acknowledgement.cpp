#include "peer_acknowledgement.hpp"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstddef>

namespace roo::io {

std::optional<std::uint64_t> read_acknowledged_bytes(int fd) {
  tcp_info info{};
  socklen_t length = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0 ||
      length < offsetof(tcp_info, tcpi_bytes_acked) + sizeof(info.tcpi_bytes_acked) || info.tcpi_bytes_acked == 0) {
    return std::nullopt;
  }
  return info.tcpi_bytes_acked - 1;  // the SYN counts as one byte
}

std::optional<std::size_t> read_unacknowledged_bytes(int fd) {
  int unacknowledged = 0;
  if (::ioctl(fd, SIOCOUTQ, &unacknowledged) != 0 || unacknowledged < 0) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(unacknowledged);
}

}  // namespace roo::io
