#pragma once

#include "roo/core/framed_connection.hpp"
#include "roo/core/shared_secret.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace roo::cluster {

/// External-channel message ids of Roo's authentication (beyond Wallaroo's spec §2.5 ids, which stop at 26).
/// The client speaks first: auth_hello (its nonce), the worker answers auth_challenge (its nonce), the client sends
/// auth_proof (its proof), the worker checks it and answers auth_accepted (its own proof), and the client, having
/// checked that, sends its request. Proofs are core::SecretHandshake's, with context "roo external v1": the secret
/// never travels, each side knows the other has it, and the worker proves nothing to a client that has not proved
/// itself first (a stranger cannot obtain a proof for a nonce it chose).
enum ExternalAuthId : std::uint16_t {
  external_auth_hello = 200,      ///< client → worker: nonce (32 bytes)
  external_auth_challenge = 201,  ///< worker → client: nonce (32)
  external_auth_proof = 202,      ///< client → worker: proof (32)
  external_auth_refused = 203,    ///< worker → client: why it closes (text)
  external_auth_accepted = 204,   ///< worker → client, after a good client proof: proof (32)
};

/// With an external secret, puts the challenge–response in front of `next` on one external connection: a
/// request before it (a CleanShutdown too) is refused ("this worker's external channel needs the external
/// secret") and closes the connection, and so does a wrong proof; `next` sees frames only after a good one.
/// Without a secret every frame goes to `next`, except auth_hello, which is refused ("this worker has no external
/// secret"). A refusal warns once ("cluster: refused external connection from <peer>: <why>"), sends
/// auth_refused, and closes. `on_trusted` runs when the client authenticated. Frame bodies: `u16 id | payload`.
[[nodiscard]] core::FramedConnection::FrameHandler authenticate_external_first(
    const core::SharedSecret& secret, core::FramedConnection::FrameHandler next,
    std::function<void(core::FramedConnection&)> on_trusted);

}  // namespace roo::cluster
