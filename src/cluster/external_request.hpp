#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace roo::cluster {

/// One request on the external channel (Wallaroo spec §2.5): the frame body is `u16 BE message id | payload`.
struct ExternalRequest {
  std::uint16_t id = 0;
  std::string_view payload;  ///< points into the frame body
};

/// Decodes an external frame body without touching the connection it came from. Returns nullopt with the reason in
/// `error` ("frame of 1 bytes has no message id") when the body is too short to be a request. Any thread.
[[nodiscard]] std::optional<ExternalRequest> decode_external_request(const char* body, std::size_t size,
                                                                     std::string& error);

}  // namespace roo::cluster
