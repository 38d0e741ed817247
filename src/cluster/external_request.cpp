#include "external_request.hpp"

namespace roo::cluster {

std::optional<ExternalRequest> decode_external_request(const char* body, std::size_t size, std::string& error) {
  if (size < 2) {
    error = "frame of " + std::to_string(size) + " bytes has no message id";
    return std::nullopt;
  }
  auto id =
      static_cast<std::uint16_t>((static_cast<unsigned char>(body[0]) << 8) | static_cast<unsigned char>(body[1]));
  return ExternalRequest{id, std::string_view(body + 2, size - 2)};
}

}  // namespace roo::cluster
