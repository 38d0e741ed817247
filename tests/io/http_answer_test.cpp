#include "http_answer.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace roo::io {
namespace {

namespace http = boost::beast::http;

/// What Boost.Beast writes for the answer, built as HttpExchangeConnection built it before it wrote answers itself
/// (but for the body-less statuses' Content-Length).
std::string beast_answer(unsigned version, unsigned status, bool allow, const std::string& content_type,
                         bool keep_alive, const std::string& body) {
  http::response<http::string_body> response;
  response.result(status);
  response.version(version);
  if (allow) {
    response.set(http::field::allow, "POST");
  }
  if (!content_type.empty()) {
    response.set(http::field::content_type, content_type);
  }
  response.body() = body;
  response.keep_alive(keep_alive);
  response.prepare_payload();
  if (!http_status_has_body(status)) {
    response.erase(http::field::content_length);  // Beast 1.74 sent "Content-Length: 0", which RFC 9110 forbids
  }
  std::ostringstream out;
  out << response;
  return out.str();
}

TEST(HttpAnswer, HeadAndBodyAreWhatBeastWrites) {
  int compared = 0;
  for (unsigned version : {10U, 11U}) {
    for (unsigned status : {200U, 201U, 204U, 299U, 304U, 400U, 405U, 413U, 431U, 500U, 503U, 504U, 599U}) {
      for (bool keep_alive : {true, false}) {
        for (const std::string content_type : {"", "application/json", "text/plain; charset=utf-8"}) {
          bool allow = status == 405;
          std::string body = http_status_has_body(status) ? "{\"n\": 1}" : "";
          std::string ours;
          append_http_answer_head(ours, version, status, allow ? "Allow: POST\r\n" : "", content_type, keep_alive,
                                  body.size());
          EXPECT_EQ(ours + body, beast_answer(version, status, allow, content_type, keep_alive, body))
              << version << " " << status << " " << keep_alive << " '" << content_type << "'";
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, 2 * 13 * 2 * 3);
}

TEST(HttpAnswer, AppendsToWhatTheBufferHolds) {
  std::string out = "kept|";
  append_http_answer_head(out, 11, 200, "", "text/plain", true, 12345);
  EXPECT_EQ(out, "kept|HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12345\r\n\r\n");
}

TEST(HttpAnswer, OnlyInformationalNoContentAndNotModifiedHaveNoBody) {
  EXPECT_FALSE(http_status_has_body(100));
  EXPECT_FALSE(http_status_has_body(204));
  EXPECT_FALSE(http_status_has_body(304));
  EXPECT_TRUE(http_status_has_body(200));
  EXPECT_TRUE(http_status_has_body(205));
  EXPECT_TRUE(http_status_has_body(500));
}

}  // namespace
}  // namespace roo::io
