#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace roo::io {

/// Data bytes of this connection the peer has acknowledged (Linux TCP_INFO tcpi_bytes_acked, less the SYN). Exact
/// even while a write is in flight, and still valid after a reset; empty when the kernel does not say (before 4.1).
[[nodiscard]] std::optional<std::uint64_t> read_acknowledged_bytes(int fd);

/// Bytes written to the socket that the peer has not acknowledged (ioctl SIOCOUTQ: unsent plus unacknowledged),
/// for kernels without tcpi_bytes_acked. Still valid after a reset; empty when the socket cannot say.
[[nodiscard]] std::optional<std::size_t> read_unacknowledged_bytes(int fd);

}  // namespace roo::io
