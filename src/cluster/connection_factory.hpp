#pragma once

#include "cluster_asio.hpp"
#include "cluster_lifecycle.hpp"
#include "owned_by_core.hpp"
#include "peer_authentication.hpp"
#include "wire.hpp"

#include "roo/cluster/cluster.hpp"
#include "roo/core/framed_connection.hpp"
#include "roo/core/listener.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>

namespace roo::cluster {

/// Turns sockets into the cluster's FramedConnections, for every protocol: the untrusted limits for a connection
/// whose peer has not proved who it is yet, TLS handshakes (within handshake_timeout) before framing, the
/// acceptor's authentication callbacks, and the set of accepted connections nobody has identified yet (control,
/// data and external), which closing the cluster closes.
///
/// Threads: everything on the core's strand. Talks to no protocol: the protocols call it. Reads the lifecycle only
/// so that a TLS handshake finishing after the cluster closed is dropped.
class ConnectionFactory : public OwnedByCore<ConnectionFactory> {
 public:
  using StreamDone = std::function<void(std::unique_ptr<core::ByteStream>, const std::string& failure)>;
  using AcceptedStream = std::function<void(std::unique_ptr<core::ByteStream>, core::ListenerSlot)>;

  ConnectionFactory(Strand& strand, const ClusterConfig& config, const Lifecycle& lifecycle)
      : strand_(strand), config_(config), lifecycle_(lifecycle) {}

  /// A connection on `kind`'s port ("control", "data", "external"). Untrusted: small frames, and closed unless it
  /// authenticates (or identifies itself) within handshake_timeout.
  [[nodiscard]] std::shared_ptr<FramedConnection> make(std::unique_ptr<core::ByteStream> stream, const char* kind,
                                                       bool trusted) const;
  /// An accepted socket as a stream: plain TCP, or (with TLS) once its handshake succeeded within
  /// handshake_timeout; a failed handshake is refused with one warning, except a peer that just closed during it
  /// (a port probe, a health check: debug only, as a plain TCP connection that closes unused is). Then `next` on the
  /// strand.
  void accept(Socket socket, core::ListenerSlot slot, const char* kind, AcceptedStream next);
  /// A connected socket as a stream; `done(nullptr, why)` when the TLS handshake failed.
  void connect(Socket socket, StreamDone done);
  /// The peer proved who it is: frames up to max_frame_bytes, no timeout, and no longer counted against the
  /// listener's limit for strangers.
  static void trust(FramedConnection& connection, std::uint32_t max_frame = max_frame_bytes);
  /// Authentication of an accepted control or data connection: trust it once authenticated; a peer that fails is
  /// refused (one warning, an auth-refused that names no application) and closed.
  [[nodiscard]] AuthCallbacks acceptor_auth_callbacks(const char* kind);

  /// Accepted, not yet identified: closed with the cluster unless forgotten first.
  void hold_unidentified(const std::shared_ptr<FramedConnection>& connection) { unidentified_.insert(connection); }
  void forget_unidentified(const std::shared_ptr<FramedConnection>& connection) { unidentified_.erase(connection); }
  void close_unidentified();

 private:
  void handshake(std::unique_ptr<core::ByteStream> stream, StreamDone done);

  Strand& strand_;
  const ClusterConfig& config_;
  const Lifecycle& lifecycle_;
  std::set<std::shared_ptr<FramedConnection>> unidentified_;
};

}  // namespace roo::cluster
