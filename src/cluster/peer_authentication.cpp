#include "peer_authentication.hpp"

#include "wire.hpp"

#include "roo/core/printable.hpp"

#include <memory>
#include <optional>

namespace roo::cluster {
namespace {

using core::FrameAction;
using core::FramedConnection;
using Role = core::SecretHandshake::Role;

/// One connection's progress through the handshake.
struct AuthState {
  std::optional<core::SecretHandshake> handshake;  // empty without a secret
  Role role = Role::connector;
  bool challenged = false;                         // the peer's challenge arrived (a connector answered it)
  bool done = false;                               // authenticated: frames go to next
  bool failed = false;
  FramedConnection::FrameHandler next;
  AuthCallbacks callbacks;
};

FrameAction fail(AuthState& state, FramedConnection& connection, AuthFailure failure, const std::string& detail) {
  state.failed = true;
  state.callbacks.on_failed(connection, failure, detail);
  return FrameAction::pause;
}

FrameAction succeed(AuthState& state, FramedConnection& connection) {
  state.done = true;
  if (state.callbacks.on_authenticated) {
    state.callbacks.on_authenticated(connection);
  }
  return connection.closed() ? FrameAction::stop : FrameAction::proceed;
}

FrameAction on_handshake_frame(AuthState& state, FramedConnection& connection, const char* body, std::size_t size) {
  auto type = static_cast<std::uint8_t>(body[0]);
  core::BigEndianReader reader(body + 1, size - 1);
  if (type == static_cast<std::uint8_t>(MessageType::auth_refused)) {
    std::string reason = reader.str();
    if (!reader.ok_and_done()) {
      reason.clear();
    }
    if (state.role == Role::connector && state.challenged && reason == refusal_text(AuthFailure::secret_differs)) {
      // The acceptor checks our proof before it proves itself: its refusal of our proof is how a differing secret
      // shows on this side.
      return fail(state, connection, AuthFailure::secret_differs, describe_type(type));
    }
    return fail(state, connection, AuthFailure::refused, reason);
  }
  if (!state.challenged) {
    if (type != static_cast<std::uint8_t>(MessageType::auth_challenge)) {
      return fail(state, connection, AuthFailure::peer_has_no_secret, describe_type(type));
    }
    std::string_view nonce = reader.raw(core::SecretHandshake::nonce_bytes);
    if (!reader.ok_and_done() || !state.handshake->take_peer_nonce(nonce)) {
      return fail(state, connection, AuthFailure::malformed, describe_type(type));
    }
    state.challenged = true;
    if (state.role == Role::connector) {
      // The acceptor proves itself only after our proof checked out: a stranger that connects never obtains a
      // proof for a nonce it chose.
      connection.write(message(MessageType::auth_proof).raw(state.handshake->proof()).take());
    }
    return FrameAction::proceed;
  }
  if (type != static_cast<std::uint8_t>(MessageType::auth_proof)) {
    return fail(state, connection, AuthFailure::malformed, describe_type(type));
  }
  std::string_view proof = reader.raw(core::SecretHandshake::proof_bytes);
  if (!reader.ok_and_done()) {
    return fail(state, connection, AuthFailure::malformed, describe_type(type));
  }
  if (!state.handshake->verify(proof)) {
    return fail(state, connection, AuthFailure::secret_differs, describe_type(type));
  }
  if (state.role == Role::acceptor) {
    connection.write(message(MessageType::auth_proof).raw(state.handshake->proof()).take());
  }
  return succeed(state, connection);
}

}  // namespace

FramedConnection::FrameHandler authenticate_first(FramedConnection& connection, const core::SharedSecret& secret,
                                                  std::string_view channel, Role role,
                                                  FramedConnection::FrameHandler next, AuthCallbacks callbacks) {
  auto state = std::make_shared<AuthState>();
  state->next = std::move(next);
  state->callbacks = std::move(callbacks);
  state->role = role;
  if (!secret.empty()) {
    state->handshake.emplace(secret.bytes(), "roo cluster " + std::string(channel) + " v1", role);
    connection.write(message(MessageType::auth_challenge).raw(state->handshake->nonce()).take());
  }
  FramedConnection::FrameHandler handler = [state](FramedConnection& c, const char* body, std::size_t size) {
    if (state->failed) {
      return FrameAction::pause;
    }
    if (!state->done) {
      return on_handshake_frame(*state, c, body, size);
    }
    if (!state->handshake && !state->challenged) {
      // Without a secret, only the first frame is looked at: a challenge means the peer has a secret we lack.
      state->challenged = true;
      auto type = static_cast<std::uint8_t>(body[0]);
      if (type == static_cast<std::uint8_t>(MessageType::auth_challenge)) {
        return fail(*state, c, AuthFailure::peer_requires_secret, describe_type(type));
      }
    }
    return state->next(c, body, size);
  };
  if (secret.empty()) {
    state->done = true;
    if (state->callbacks.on_authenticated) {
      state->callbacks.on_authenticated(connection);
    }
  }
  return handler;
}

std::string describe_auth_failure(AuthFailure failure, std::string_view subject, const std::string& detail) {
  std::string who(subject);
  std::string whose = who == "it" ? "its" : who + "'s";
  switch (failure) {
    case AuthFailure::secret_differs:
      return whose + " cluster secret differs from this worker's";
    case AuthFailure::peer_has_no_secret:
      return who + " did not authenticate (it sent a " + detail + " message first; has it no cluster secret?)";
    case AuthFailure::peer_requires_secret:
      return who +
             " requires a cluster secret and this worker has none (set --cluster-secret-file or "
             "ROO_CLUSTER_SECRET_FILE)";
    case AuthFailure::malformed:
      return who + " sent a malformed or unexpected " + detail + " message while authenticating";
    case AuthFailure::refused:
      return who + " refused this worker: " + core::printable(detail, 200);
  }
  return who + " did not authenticate";
}

std::string refusal_text(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::secret_differs:
      return "the cluster secret does not match";
    case AuthFailure::peer_has_no_secret:
      return "a cluster secret is required";
    case AuthFailure::peer_requires_secret:
      return "it has no cluster secret of its own";
    case AuthFailure::malformed:
    case AuthFailure::refused:
      break;
  }
  return "authentication failed";
}

}  // namespace roo::cluster
