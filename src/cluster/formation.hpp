#pragma once

#include "cluster_lifecycle.hpp"
#include "connection_factory.hpp"
#include "data_channels.hpp"
#include "formation_routes.hpp"
#include "initializer_formation.hpp"
#include "joining_formation.hpp"
#include "member_table.hpp"
#include "owned_by_core.hpp"
#include "wire.hpp"

#include "roo/cluster/cluster.hpp"

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace roo::cluster {

/// Forming the cluster, what both sides do (docs/cluster.md): take the membership, open a data channel to every
/// peer (retrying until join_timeout), report channels-up, go, or fail. What only the initializer does is
/// InitializerFormation's, what only a joining worker does is JoiningFormation's; Formation owns both and starts
/// the one this worker needs.
///
/// Threads: everything on the core's strand. Owns the formation promise and each outbound data channel's opening.
/// Fills the MemberTable (assign, outbound data connections), has DataChannels take the membership and serve the
/// outbound channels' acks, and moves the lifecycle on to running. Every other control frame and every loss goes
/// to ClusterCore through FormationRoutes.
class Formation : public OwnedByCore<Formation> {
 public:
  Formation(asio::io_context& io, Strand& strand, const ClusterConfig& config, Lifecycle& lifecycle,
            MemberTable& members, ConnectionFactory& connections, DataChannels& data, const BoundPorts& ports,
            FormationRoutes routes);

  /// Also anchors the joining side's handlers.
  void anchor(std::weak_ptr<void> core);
  [[nodiscard]] std::future<Membership> formed() { return formed_promise_.get_future(); }
  /// On the strand: the initializer waits for its workers (`control_listener` is started here); a worker joins.
  void start(core::Listener& control_listener);
  /// The initializer: worker `index` has every data channel up.
  void on_channels_up(std::size_t index) { initializer_.on_channels_up(index); }
  /// A worker: the initializer's membership and reject.
  void on_membership(Membership membership) { joining_.on_membership(std::move(membership)); }
  void on_reject(const std::string& reason) { joining_.on_reject(reason); }
  void on_join_at(const core::Endpoint& initializer) { joining_.on_join_at(initializer); }
  /// A worker that is not the initializer: where it reached the initializer's control channel.
  [[nodiscard]] const core::Endpoint& initializer_address() const { return joining_.target(); }
  void go();
  /// After formation (growing): opens our data channel to worker `index`, which just joined; the MemberTable has it.
  /// Once it is up, FormationRoutes::channel_grown; when it cannot be opened within join_timeout, the worker is lost.
  void grow(std::size_t index);
  /// Settles the formation promise with `message` (once, and only while forming) and closes everything.
  void fail(const std::string& message, bool for_good = false);
  /// A worker's formation error: "join the cluster at <initializer>: <reason>".
  [[nodiscard]] std::string join_error(const std::string& reason) const;
  void close();

 private:
  friend class InitializerFormation;
  friend class JoiningFormation;

  /// Our data channel to one peer while it opens.
  struct Opening {
    bool outbound_ready = false;  // ... and it authenticated
    std::unique_ptr<Timer> connect_timer;
    std::unique_ptr<Socket> connecting;
  };

  void apply_membership(Membership membership);
  void connect_data(std::size_t index);
  void on_data_connected(std::size_t index);
  void on_data_stream_out(std::size_t index, std::unique_ptr<core::ByteStream> stream);
  void on_outbound_ready(std::size_t index);
  /// Opening data channels: while forming, or while running (a worker joined).
  [[nodiscard]] bool opening() const;
  /// A data channel to `index` cannot be opened: formation fails, or (growing) the joiner is lost.
  void fail_channel(std::size_t index, const std::string& message);

  asio::io_context& io_;
  Strand& strand_;
  const ClusterConfig& config_;
  Lifecycle& lifecycle_;
  MemberTable& members_;
  ConnectionFactory& connections_;
  DataChannels& data_;
  FormationRoutes routes_;
  std::string initializer_address_;
  std::promise<Membership> formed_promise_;
  std::vector<Opening> openings_;
  std::chrono::steady_clock::time_point data_deadline_;  // opening data channels gives up after join_timeout
  InitializerFormation initializer_;
  JoiningFormation joining_;
};

}  // namespace roo::cluster
