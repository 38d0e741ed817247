#include "http_request_parser.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <algorithm>

namespace roo::io {

namespace http = boost::beast::http;

HttpRequestParser::HttpRequestParser(std::string& target, std::string& body, std::size_t max_header_bytes,
                                     std::size_t max_body_bytes)
    : target_(target), body_(body) {
  target_.clear();
  body_.clear();
  header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(max_header_bytes, UINT32_MAX)));
  body_limit(max_body_bytes);
}

void HttpRequestParser::on_request_impl(http::verb method, string_view, string_view target, int version, error_code&) {
  method_ = method;
  version_ = static_cast<unsigned>(version);
  target_.assign(target.data(), target.size());
}

void HttpRequestParser::on_response_impl(int, string_view, int, error_code&) {}  // a request parser: never called

void HttpRequestParser::on_field_impl(http::field name, string_view, string_view value, error_code&) {
  if (name == http::field::expect && !seen_expect_) {
    seen_expect_ = true;
    expects_continue_ = boost::beast::iequals(value, "100-continue");
  }
}

void HttpRequestParser::on_header_impl(error_code&) {}

void HttpRequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code&) {
  if (content_length) {
    body_.reserve(static_cast<std::size_t>(*content_length));  // within body_limit: the parser checked it before
  }
}

std::size_t HttpRequestParser::on_body_impl(string_view body, error_code&) {
  body_.append(body.data(), body.size());
  return body.size();
}

void HttpRequestParser::on_chunk_header_impl(std::uint64_t, string_view, error_code&) {}

std::size_t HttpRequestParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
  body_.append(body.data(), body.size());
  return body.size();
}

void HttpRequestParser::on_finish_impl(error_code&) {}

}  // namespace roo::io
