#include "roo/core/secret_handshake.hpp"

#include "roo/core/error.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace roo::core {

SecretHandshake::SecretHandshake(std::string_view secret, std::string_view context, Role role)
    : secret_(secret), context_(context), role_(role), nonce_(nonce_bytes, '\0') {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce_.data()), static_cast<int>(nonce_.size())) != 1) {
    throw Error("draw a random nonce for authentication: the system's random number generator failed");
  }
}

bool SecretHandshake::take_peer_nonce(std::string_view nonce) {
  if (nonce.size() != nonce_bytes || nonce == nonce_) {
    return false;
  }
  peer_nonce_ = std::string(nonce);
  return true;
}

std::string SecretHandshake::proof_of(Role role) const {
  const std::string& connector_nonce = role_ == Role::connector ? nonce_ : peer_nonce_;
  const std::string& acceptor_nonce = role_ == Role::connector ? peer_nonce_ : nonce_;
  std::string message = context_;
  message.push_back('\0');
  message.push_back(static_cast<char>(role));
  message += connector_nonce;
  message += acceptor_nonce;
  std::string mac(EVP_MAX_MD_SIZE, '\0');
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       reinterpret_cast<unsigned char*>(mac.data()), &length);
  mac.resize(length);
  return mac;
}

std::string SecretHandshake::proof() const { return proof_of(role_); }

bool SecretHandshake::verify(std::string_view proof) const {
  if (peer_nonce_.empty() || proof.size() != proof_bytes) {
    return false;
  }
  std::string expected = proof_of(role_ == Role::connector ? Role::acceptor : Role::connector);
  return CRYPTO_memcmp(expected.data(), proof.data(), proof_bytes) == 0;
}

}  // namespace roo::core
