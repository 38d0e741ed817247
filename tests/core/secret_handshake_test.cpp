#include "roo/core/secret_handshake.hpp"

#include <gtest/gtest.h>

namespace roo::core {
namespace {

using Role = SecretHandshake::Role;

TEST(SecretHandshake, BothSidesProveTheSameSecret) {
  SecretHandshake connector("secret", "roo test v1", Role::connector);
  SecretHandshake acceptor("secret", "roo test v1", Role::acceptor);
  ASSERT_TRUE(connector.take_peer_nonce(acceptor.nonce()));
  ASSERT_TRUE(acceptor.take_peer_nonce(connector.nonce()));
  EXPECT_TRUE(acceptor.verify(connector.proof()));
  EXPECT_TRUE(connector.verify(acceptor.proof()));
  EXPECT_EQ(connector.nonce().size(), 32u);
  EXPECT_NE(connector.nonce(), acceptor.nonce());
}

TEST(SecretHandshake, AnotherSecretOrProtocolFails) {
  SecretHandshake connector("wrong", "roo test v1", Role::connector);
  SecretHandshake acceptor("secret", "roo test v1", Role::acceptor);
  ASSERT_TRUE(connector.take_peer_nonce(acceptor.nonce()));
  ASSERT_TRUE(acceptor.take_peer_nonce(connector.nonce()));
  EXPECT_FALSE(acceptor.verify(connector.proof()));
  SecretHandshake other_protocol("secret", "roo other v1", Role::connector);
  ASSERT_TRUE(other_protocol.take_peer_nonce(acceptor.nonce()));
  SecretHandshake fresh("secret", "roo test v1", Role::acceptor);
  ASSERT_TRUE(fresh.take_peer_nonce(other_protocol.nonce()));
  EXPECT_FALSE(fresh.verify(other_protocol.proof()));
}

TEST(SecretHandshake, AReflectedAnswerFails) {
  // An attacker without the secret hands the acceptor's own challenge and proof back to it.
  SecretHandshake acceptor("secret", "roo test v1", Role::acceptor);
  EXPECT_FALSE(acceptor.take_peer_nonce(acceptor.nonce()));
  SecretHandshake second("secret", "roo test v1", Role::acceptor);
  std::string attacker_nonce(32, 'a');
  ASSERT_TRUE(second.take_peer_nonce(attacker_nonce));
  EXPECT_FALSE(second.verify(second.proof()));
  EXPECT_FALSE(second.verify(std::string(32, '\0')));
  EXPECT_FALSE(second.verify("short"));
}

}  // namespace
}  // namespace roo::core
