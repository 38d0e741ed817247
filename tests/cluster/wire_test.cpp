#include "wire.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace roo::cluster {
namespace {

core::BigEndianReader after_type(const std::vector<char>& body) { return core::BigEndianReader(body.data() + 1, body.size() - 1); }

Membership two_workers() {
  Membership membership;
  membership.key_groups = 256;
  membership.self = 1;
  membership.workers = {WorkerInfo{"initializer", {"127.0.0.1", 7000}, {"127.0.0.1", 7001}, std::nullopt},
                        WorkerInfo{"worker1", {"127.0.0.1", 7100}, {"127.0.0.1", 7101}, core::Endpoint{"::1", 7102}}};
  return membership;
}

TEST(Wire, AMembershipDecodesAsItWasEncoded) {
  std::vector<char> body = encode_membership(two_workers());
  ASSERT_EQ(body[0], static_cast<char>(MessageType::membership));
  std::optional<Membership> decoded = decode_membership(after_type(body));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->key_groups, 256u);
  EXPECT_EQ(decoded->self, 1u);
  ASSERT_EQ(decoded->workers.size(), 2u);
  EXPECT_EQ(decoded->workers[1].name, "worker1");
  EXPECT_EQ(decoded->workers[1].data.port, 7101);
  ASSERT_TRUE(decoded->workers[1].external.has_value());
  EXPECT_EQ(decoded->workers[1].external->host, "::1");
  EXPECT_FALSE(decoded->workers[0].external.has_value());
}

// Found while writing tests/fuzz/control_frame_fuzz.cpp (which now checks it): a membership with no key groups
// decoded, and the key router then divides by zero for the first keyed event.
TEST(Wire, AMembershipWithoutKeyGroupsIsRefused) {
  Membership membership = two_workers();
  membership.key_groups = 0;
  std::vector<char> body = encode_membership(membership);
  EXPECT_FALSE(decode_membership(after_type(body)).has_value());
}

TEST(Wire, APollReplyDecodesAsItWasEncoded) {
  PollReply reply{.round = 7, .drained = true, .sent = {1, 2}, .processed = {3, 4}};
  std::vector<char> body = encode_poll_reply(reply);
  std::optional<PollReply> decoded = decode_poll_reply(after_type(body));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->round, 7u);
  EXPECT_TRUE(decoded->drained);
  EXPECT_EQ(decoded->sent, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(decoded->processed, (std::vector<std::uint64_t>{3, 4}));
}

TEST(Wire, AHelloWithBytesLeftOverIsRefused) {
  std::vector<char> body = encode_hello(HelloMessage{"worker1", {"h", 1}, {"h", 2}, std::nullopt, "app"});
  ASSERT_TRUE(decode_hello(after_type(body)).has_value());
  body.push_back('x');
  EXPECT_FALSE(decode_hello(after_type(body)).has_value());
}

TEST(Wire, AReaderReportsWhatIsLeftAndNothingAfterAFailedRead) {
  const std::string body("\x00\x01\x02", 3);
  core::BigEndianReader reader(body.data(), body.size());
  EXPECT_EQ(reader.u16(), 1u);
  EXPECT_EQ(reader.remaining(), 1u);
  (void)reader.u32();  // one byte short
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_FALSE(reader.ok_and_done());
}

}  // namespace
}  // namespace roo::cluster
