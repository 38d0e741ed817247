#include "external_request.hpp"

#include <gtest/gtest.h>

#include <string>

namespace roo::cluster {
namespace {

TEST(ExternalRequest, SplitsTheMessageIdFromThePayload) {
  const std::string body("\x00\x01hello", 7);
  std::string error;
  auto request = decode_external_request(body.data(), body.size(), error);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->id, 1u);
  EXPECT_EQ(request->payload, "hello");
  EXPECT_TRUE(error.empty());
}

TEST(ExternalRequest, AnIdWithNoPayloadIsARequest) {
  const std::string body("\x01\x09", 2);
  std::string error;
  auto request = decode_external_request(body.data(), body.size(), error);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->id, 0x0109u);
  EXPECT_TRUE(request->payload.empty());
}

TEST(ExternalRequest, ABodyTooShortForAnIdIsRefusedWithItsSize) {
  std::string error;
  EXPECT_FALSE(decode_external_request("\x00", 1, error).has_value());
  EXPECT_EQ(error, "frame of 1 bytes has no message id");
}

}  // namespace
}  // namespace roo::cluster
