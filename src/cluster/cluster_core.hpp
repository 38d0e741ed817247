#pragma once

#include "checkpoint_protocol.hpp"
#include "cluster_lifecycle.hpp"
#include "connection_factory.hpp"
#include "data_channels.hpp"
#include "drain_protocol.hpp"
#include "external_channel.hpp"
#include "formation.hpp"
#include "gathered_queries.hpp"
#include "join_redirect.hpp"
#include "member_table.hpp"
#include "rescale_protocol.hpp"
#include "stream_ownership.hpp"

#include "roo/cluster/cluster.hpp"
#include "roo/core/listener.hpp"

#include <future>
#include <memory>
#include <string>
#include <vector>

namespace roo::cluster {

/// The state behind a Cluster handle: one worker's cluster side, composed of one protocol object per concern over
/// one MemberTable. ClusterCore owns the strand, the config, the hooks, the lifecycle and the listeners; it wires
/// the protocols together (the control-plane frames to the protocol that handles them, in control_routes.cpp, and
/// what a peer's loss means to each, in peer_loss.cpp) and keeps the thread-safe entry points, which post to the
/// strand.
///
/// Threads: everything runs on one strand of the worker's io_context, except the entry points send(),
/// acknowledge(), budget() and workers_up(), which touch only the MemberTable's atomics and ByteBudgets, fixed at
/// formation, and post the rest. shared_ptr because Asio handlers and posted work may outlive the handle: every
/// protocol's handlers hold the core (OwnedByCore).
class ClusterCore : public std::enable_shared_from_this<ClusterCore> {
 public:
  [[nodiscard]] static std::shared_ptr<ClusterCore> make(asio::io_context& io, ClusterConfig config,
                                                         core::BoundedMailbox<core::PeerInput>& inbound,
                                                         ClusterHooks hooks);
  ClusterCore(asio::io_context& io, ClusterConfig config, core::BoundedMailbox<core::PeerInput>& inbound,
              ClusterHooks hooks);
  ClusterCore(const ClusterCore&) = delete;
  ClusterCore& operator=(const ClusterCore&) = delete;

  Membership form();
  std::future<Membership> begin_forming();
  bool send(std::size_t to, std::vector<char>&& bytes);
  bool send_key_groups(std::size_t to, std::vector<char>&& bytes);
  void rescale_moved(std::uint64_t round);
  core::ByteBudget& budget(std::size_t to);
  void acknowledge(std::size_t from, std::size_t bytes);
  void request_stop();
  bool begin_checkpoint(std::uint64_t id);
  void send_marker(std::size_t to, std::uint64_t id);
  void send_watermark(std::size_t to, std::vector<char> bytes);
  void report_checkpoint_part(std::uint64_t id, bool ok, std::string text);
  void end_checkpoint(std::uint64_t id, bool complete);
  void gather(std::uint16_t type, std::function<void(GatheredByName)> done);
  [[nodiscard]] std::vector<bool> workers_up() const;
  /// Cluster::stream_registry: a handle whose calls post to StreamOwnership while this core lives.
  [[nodiscard]] std::shared_ptr<core::StreamRegistry> stream_registry();
  /// Lost peers and unacknowledged bytes, for the runtime's closing report (peer_loss.cpp).
  [[nodiscard]] std::vector<PeerShortfall> shortfalls() const;
  /// Closes everything; with `wait`, waits for it as Cluster::stop() says.
  void stop(bool wait);

 private:
  // cluster_core.cpp
  [[nodiscard]] std::shared_ptr<core::Listener> make_listener(const std::string& what);
  /// One warning at start when the cluster has no secret and listens beyond this machine.
  void warn_if_exposed() const;
  /// On the strand, once: the data and external listeners, then formation.
  void start();
  void close_all();

  // peer_loss.cpp
  /// A member's connection closed: before formation, formation fails; after it, the peer is lost.
  void on_peer_closed(std::size_t index, const std::string& cause);
  /// Records the loss in the MemberTable, then tells every protocol that cares.
  void mark_lost(std::size_t index, const std::string& cause);

  // control_routes.cpp: the control plane's frames, to the protocol that handles each
  FrameAction on_worker_control_frame(std::size_t index, FramedConnection& connection, const char* body,
                                      std::size_t size);
  FrameAction on_initializer_frame(FramedConnection& connection, const char* body, std::size_t size);

  asio::io_context& io_;
  ClusterConfig config_;
  ClusterHooks hooks_;
  Strand strand_;
  Lifecycle life_;
  MemberTable members_;
  ConnectionFactory connections_;

  std::shared_ptr<core::Listener> control_listener_;
  std::shared_ptr<core::Listener> data_listener_;
  std::shared_ptr<core::Listener> external_listener_;
  BoundPorts ports_;

  CheckpointProtocol checkpoints_;
  DataChannels data_;
  DrainProtocol drain_;
  GatheredQueries queries_;
  ExternalChannel external_;
  StreamOwnership streams_;
  Formation formation_;
  RescaleProtocol rescale_;
  JoinRedirect join_redirect_;  // not the initializer: sends joiners on to it
};

}  // namespace roo::cluster
