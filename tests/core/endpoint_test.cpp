#include "roo/core/endpoint.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

namespace roo::core {
namespace {

TEST(Endpoint, ParsesHostAndPort) {
  EXPECT_EQ(parse_endpoint("127.0.0.1:7010", "--in"), (Endpoint{"127.0.0.1", 7010}));
  EXPECT_EQ(parse_endpoint("localhost:0", "--in"), (Endpoint{"localhost", 0}));
  EXPECT_EQ(parse_endpoint("[::1]:80", "--in"), (Endpoint{"::1", 80}));
  EXPECT_EQ((Endpoint{"::1", 80}).to_string(), "[::1]:80");
}

TEST(Endpoint, SaysWhatIsWrongAndWhere) {
  auto message = [](const char* text) {
    try {
      (void)parse_endpoint(text, "--out");
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("nope"), "parse --out address 'nope': expected host:port");
  EXPECT_EQ(message(":80"), "parse --out address ':80': the host is empty");
  EXPECT_EQ(message("h:70000"), "parse --out address 'h:70000': the port must be a number from 0 to 65535");
  EXPECT_EQ(message("h:x1"), "parse --out address 'h:x1': the port must be a number from 0 to 65535");
}

}  // namespace
}  // namespace roo::core
