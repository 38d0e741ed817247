#include "external_authentication.hpp"

#include "cluster_log.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/secret_handshake.hpp"

#include <memory>
#include <optional>

namespace roo::cluster {
namespace {

using core::FrameAction;
using core::FramedConnection;
using Role = core::SecretHandshake::Role;

struct ExternalAuthState {
  std::optional<core::SecretHandshake> handshake;  // empty without a secret
  bool challenged = false;                         // auth_hello answered; its proof is next
  bool done = false;
  bool failed = false;
  FramedConnection::FrameHandler next;
  std::function<void(FramedConnection&)> on_trusted;
};

void send_frame(FramedConnection& connection, std::uint16_t id, const std::string& payload) {
  char header[2];
  core::store_u16_be(header, id);
  connection.write(header, 2, std::vector<char>(payload.begin(), payload.end()));
}

FrameAction refuse(ExternalAuthState& state, FramedConnection& connection, const std::string& why,
                   const std::string& answer) {
  state.failed = true;
  cluster_logger()->warn("cluster: refused external connection from {}: {}", connection.peer(), why);
  send_frame(connection, external_auth_refused, answer);
  auto shared = connection.shared_from_this();
  connection.when_flushed([shared] { shared->close(); });
  return FrameAction::pause;
}

FrameAction on_handshake(ExternalAuthState& state, FramedConnection& connection, std::uint16_t id,
                         core::BigEndianReader reader) {
  const std::string needed = "this worker's external channel needs the external secret (--external-secret-file)";
  if (!state.challenged) {
    if (id != external_auth_hello) {
      return refuse(state, connection,
                    "it did not authenticate (it sent message id " + std::to_string(id) +
                        " first; the external channel has a secret)",
                    needed);
    }
    std::string_view nonce = reader.raw(core::SecretHandshake::nonce_bytes);
    if (!reader.ok_and_done() || !state.handshake->take_peer_nonce(nonce)) {
      return refuse(state, connection, "malformed auth-hello message", needed);
    }
    state.challenged = true;
    send_frame(connection, external_auth_challenge, state.handshake->nonce());
    return FrameAction::proceed;
  }
  std::string_view proof = reader.raw(core::SecretHandshake::proof_bytes);
  if (id != external_auth_proof || !reader.ok_and_done() || !state.handshake->verify(proof)) {
    return refuse(state, connection, "its external secret differs from this worker's",
                  "the external secret does not match");
  }
  send_frame(connection, external_auth_accepted, state.handshake->proof());
  state.done = true;
  if (state.on_trusted) {
    state.on_trusted(connection);
  }
  return FrameAction::proceed;
}

}  // namespace

FramedConnection::FrameHandler authenticate_external_first(const core::SharedSecret& secret,
                                                           FramedConnection::FrameHandler next,
                                                           std::function<void(FramedConnection&)> on_trusted) {
  auto state = std::make_shared<ExternalAuthState>();
  state->next = std::move(next);
  state->on_trusted = std::move(on_trusted);
  if (!secret.empty()) {
    state->handshake.emplace(secret.bytes(), "roo external v1", Role::acceptor);
  } else {
    state->done = true;
  }
  return [state](FramedConnection& c, const char* body, std::size_t size) {
    if (state->failed) {
      return FrameAction::pause;
    }
    if (size < 2) {
      return state->next(c, body, size);  // the channel's own "has no message id" failure
    }
    core::BigEndianReader reader(body, size);
    std::uint16_t id = reader.u16();
    if (!state->done) {
      return on_handshake(*state, c, id, reader);
    }
    if (!state->handshake && id == external_auth_hello) {
      return refuse(*state, c, "it sent the external secret's auth-hello, and this worker has no external secret",
                    "this worker has no external secret");
    }
    return state->next(c, body, size);
  };
}

}  // namespace roo::cluster
