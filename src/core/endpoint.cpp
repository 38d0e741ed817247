#include "roo/core/endpoint.hpp"

#include "roo/core/error.hpp"

#include <charconv>

namespace roo::core {

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

Endpoint parse_endpoint(std::string_view text, std::string_view what) {
  auto fail = [&](std::string_view why) {
    return UsageError("parse " + std::string(what) + " address '" + std::string(text) + "': " + std::string(why));
  };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw fail("expected host:port");
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    throw fail("the host is empty");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port_text.empty() || port > 65535) {
    throw fail("the port must be a number from 0 to 65535");
  }
  return Endpoint{std::string(host), static_cast<std::uint16_t>(port)};
}

}  // namespace roo::core
