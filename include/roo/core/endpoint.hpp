#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace roo::core {

/// A TCP address as the user wrote it: host name or IP, and port.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;

  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

/// Parses "host:port" (IPv6 as "[::1]:port"). Throws UsageError naming `what` (e.g. "--out") on bad input.
[[nodiscard]] Endpoint parse_endpoint(std::string_view text, std::string_view what);

}  // namespace roo::core
