#pragma once

#include "roo/core/framed_connection.hpp"
#include "roo/core/secret_handshake.hpp"
#include "roo/core/shared_secret.hpp"

#include <functional>
#include <string>
#include <string_view>

namespace roo::cluster {

/// Why a peer did not authenticate on a control or data connection.
enum class AuthFailure {
  secret_differs,        ///< its proof is wrong: it has another secret (or none and guessed)
  peer_has_no_secret,    ///< we have a secret; its first message was not a challenge
  peer_requires_secret,  ///< we have no secret; it sent a challenge
  malformed,             ///< a challenge or proof of the wrong size or shape
  refused,               ///< it refused us (auth-refused), with its reason
};

/// What one connection's authentication calls when it ends. Both run on the strand, inside the frame handler.
struct AuthCallbacks {
  /// The peer proved it knows the secret (at once, without a secret): send the first message, trust the peer.
  std::function<void(core::FramedConnection&)> on_authenticated;
  /// It did not; `detail` is the refusal text for AuthFailure::refused, the message type otherwise. The
  /// connection is paused; the callback logs, answers and closes it.
  std::function<void(core::FramedConnection&, AuthFailure, const std::string& detail)> on_failed;
};

/// Puts the cluster-secret challenge–response (core::SecretHandshake, context "roo cluster <channel> v1") in
/// front of `next` on one control or data connection: sends our challenge now, answers the peer's (a connector at
/// once; an acceptor only after the connector's proof checked out, so a stranger obtains no proof), and lets frames
/// reach `next` only after the peer's proof checked out, so nothing from an unauthenticated peer is ever parsed
/// beyond the handshake. Without a secret, on_authenticated runs at once (before this returns) and every frame
/// goes to `next`, except a challenge first: that peer has a secret we lack. Returns the frame handler to start
/// the connection with.
[[nodiscard]] core::FramedConnection::FrameHandler authenticate_first(core::FramedConnection& connection,
                                                                      const core::SharedSecret& secret,
                                                                      std::string_view channel,
                                                                      core::SecretHandshake::Role role,
                                                                      core::FramedConnection::FrameHandler next,
                                                                      AuthCallbacks callbacks);

/// The failure as a clause about the peer: `subject` is "it", "the initializer" or "worker 'w1'". E.g. "its
/// cluster secret differs from this worker's".
[[nodiscard]] std::string describe_auth_failure(AuthFailure failure, std::string_view subject,
                                                const std::string& detail);

/// The text an acceptor sends in auth-refused: the reason, and nothing about the application.
[[nodiscard]] std::string refusal_text(AuthFailure failure);

}  // namespace roo::cluster
