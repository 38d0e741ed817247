#pragma once

#include <cstddef>
#include <optional>

namespace roo::io {

/// Bytes written to the connected TCP socket `fd` that the peer has not acknowledged yet (Linux: ioctl SIOCOUTQ,
/// unsent plus unacknowledged). Stays valid after a reset (the kernel keeps its sequence numbers); empty when the
/// socket cannot say (closed, not TCP).
[[nodiscard]] std::optional<std::size_t> read_unacknowledged_bytes(int fd);

}  // namespace roo::io
