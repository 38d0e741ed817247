#pragma once

#include "roo/core/endpoint.hpp"

#include <chrono>
#include <netdb.h>
#include <string>

namespace roo::cli {

/// One TCP connect to `address` that waits at most until `deadline` (non-blocking connect + poll). Returns a
/// blocking socket with TCP_NODELAY set, or -errno (ETIMEDOUT when the deadline passed). Shared by the tools that
/// dial a worker: roo send, roo ctl, roo shutdown.
[[nodiscard]] int connect_attempt(const addrinfo& address, std::chrono::steady_clock::time_point deadline);

/// Resolves `peer` and tries each of its addresses once with connect_attempt. Returns a socket, or -errno of the
/// last attempt; when the name does not resolve, returns -1 and sets `resolve_error` to the resolver's text.
[[nodiscard]] int connect_to(const core::Endpoint& peer, std::chrono::steady_clock::time_point deadline,
                             std::string& resolve_error);

}  // namespace roo::cli
