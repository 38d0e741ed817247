#pragma once

#include <netdb.h>

#include <chrono>

namespace roo::cli {

/// One TCP connect to `address` that waits at most until `deadline` (non-blocking connect + poll). Returns a
/// blocking socket with TCP_NODELAY set, or -errno (ETIMEDOUT when the deadline passed). Shared by the tools that
/// dial a worker: roo send, roo ctl, roo shutdown.
[[nodiscard]] int connect_attempt(const addrinfo& address, std::chrono::steady_clock::time_point deadline);

}  // namespace roo::cli
