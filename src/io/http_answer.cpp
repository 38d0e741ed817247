#include "http_answer.hpp"

#include <boost/beast/http/status.hpp>

#include <charconv>
#include <ostream>  // Beast's status.hpp streams a string_view and does not include it

namespace roo::io {

namespace http = boost::beast::http;

void append_http_answer_head(std::string& out, unsigned version, unsigned status, std::string_view extra_fields,
                             std::string_view content_type, bool keep_alive, std::size_t body_bytes) {
  char line[] = "HTTP/1.1 200 ";
  line[5] = static_cast<char>('0' + version / 10 % 10);
  line[7] = static_cast<char>('0' + version % 10);
  line[9] = static_cast<char>('0' + status / 100 % 10);
  line[10] = static_cast<char>('0' + status / 10 % 10);
  line[11] = static_cast<char>('0' + status % 10);
  out.append(line, sizeof line - 1);
  auto reason = http::obsolete_reason(static_cast<http::status>(status));
  out.append(reason.data(), reason.size());
  out.append("\r\n");
  out.append(extra_fields);
  if (!content_type.empty()) {
    out.append("Content-Type: ");
    out.append(content_type);
    out.append("\r\n");
  }
  // HTTP/1.1 keeps the connection unless told; HTTP/1.0 closes it unless told.
  if (version >= 11 && !keep_alive) {
    out.append("Connection: close\r\n");
  } else if (version < 11 && keep_alive) {
    out.append("Connection: keep-alive\r\n");
  }
  if (http_status_has_body(status)) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, body_bytes).ptr;
    out.append("Content-Length: ");
    out.append(digits, static_cast<std::size_t>(end - digits));
    out.append("\r\n");
  }
  out.append("\r\n");
}

}  // namespace roo::io
