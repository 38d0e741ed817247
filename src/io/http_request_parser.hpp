#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace roo::io {

/// Beast's HTTP/1 request parser (its grammar, chunked bodies, header and body limits, keep-alive rules), keeping
/// only what an HttpExchange connection uses and allocating nothing per request once the connection's strings have
/// grown: the method, the target (GET /healthz), whether the client waits for `100 Continue` (its first Expect
/// field), and the body, appended to a string the connection owns. beast::http::request_parser would build a field
/// list (an allocation per field) and a fresh body string for every request. One parser per request.
class HttpRequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  /// Parses into `target` and `body` (both cleared now). A header over `max_header_bytes` is
  /// http::error::header_limit, a body over `max_body_bytes` http::error::body_limit.
  HttpRequestParser(std::string& target, std::string& body, std::size_t max_header_bytes, std::size_t max_body_bytes);

  [[nodiscard]] boost::beast::http::verb method() const { return method_; }
  [[nodiscard]] unsigned version() const { return version_; }
  [[nodiscard]] bool expects_continue() const { return expects_continue_; }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb method, string_view method_text, string_view target, int version,
                       error_code& error) override;
  void on_response_impl(int status, string_view reason, int version, error_code& error) override;
  void on_field_impl(boost::beast::http::field name, string_view name_text, string_view value,
                     error_code& error) override;
  void on_header_impl(error_code& error) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& error) override;
  std::size_t on_body_impl(string_view body, error_code& error) override;
  void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& error) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& error) override;
  void on_finish_impl(error_code& error) override;

  std::string& target_;
  std::string& body_;
  boost::beast::http::verb method_ = boost::beast::http::verb::unknown;
  unsigned version_ = 11;
  bool seen_expect_ = false;
  bool expects_continue_ = false;
};

}  // namespace roo::io
