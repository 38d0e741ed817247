#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace roo::io {

/// An HTTP/1 answer's status line and header, as Boost.Beast would write them for a response of `version` (10 or
/// 11, the request's) with `status`, `extra_fields` (whole lines, "Allow: POST\r\n"), `content_type` (none when
/// empty) and the keep-alive choice, and a body of `body_bytes`: appended to `out`, which a connection reuses, so
/// that answering allocates nothing once it has grown. Statuses whose answers have no body (1xx, 204, 304) get no
/// Content-Length; the caller sends no body with them.
void append_http_answer_head(std::string& out, unsigned version, unsigned status, std::string_view extra_fields,
                             std::string_view content_type, bool keep_alive, std::size_t body_bytes);

/// Whether an answer with `status` may have a body (RFC 9110: not 1xx, 204 or 304).
[[nodiscard]] constexpr bool http_status_has_body(unsigned status) {
  return status >= 200 && status != 204 && status != 304;
}

}  // namespace roo::io
