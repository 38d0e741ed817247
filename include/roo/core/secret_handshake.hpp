#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace roo::core {

/// The arithmetic of a mutual challenge–response over a shared secret, for one connection (the protocol that
/// carries the messages is the caller's). Each side sends a fresh random nonce; each then proves it knows the
/// secret with HMAC-SHA256(secret, context | 0 | role | connector nonce | acceptor nonce). Both nonces make a
/// proof good for one connection only, the role keeps one side's answer from serving as the other's (a reflected
/// answer fails), and the context (e.g. "roo cluster control v1") keeps a proof on one protocol from serving on
/// another. Proofs are compared in constant time. Not thread-safe; one per connection.
class SecretHandshake {
 public:
  enum class Role : std::uint8_t {
    connector = 1,  ///< the side that opened the connection
    acceptor = 2,   ///< the side that accepted it
  };
  static constexpr std::size_t nonce_bytes = 32;
  static constexpr std::size_t proof_bytes = 32;

  /// Draws this side's nonce (OpenSSL RAND_bytes). Throws core::Error when no randomness is available.
  SecretHandshake(std::string_view secret, std::string_view context, Role role);

  /// This side's challenge: the nonce to send.
  [[nodiscard]] const std::string& nonce() const { return nonce_; }
  /// Takes the peer's nonce; false when it is not nonce_bytes long or equals ours (a reflected challenge).
  [[nodiscard]] bool take_peer_nonce(std::string_view nonce);
  /// This side's proof (after take_peer_nonce).
  [[nodiscard]] std::string proof() const;
  /// True when `proof` is the peer's correct proof for this connection (after take_peer_nonce).
  [[nodiscard]] bool verify(std::string_view proof) const;

 private:
  [[nodiscard]] std::string proof_of(Role role) const;

  std::string secret_;
  std::string context_;
  Role role_;
  std::string nonce_;
  std::string peer_nonce_;
};

}  // namespace roo::core
