#pragma once

#include "cluster_lifecycle.hpp"
#include "connection_factory.hpp"
#include "data_channels.hpp"
#include "member_table.hpp"
#include "owned_by_core.hpp"
#include "wire.hpp"

#include "roo/cluster/cluster.hpp"

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace roo::cluster {

/// Resolves a peer's address (IPv4 preferred), on the calling thread: peers are named by IP or /etc/hosts names.
boost::system::error_code resolve_peer(asio::io_context& io, const core::Endpoint& where,
                                       asio::ip::tcp::endpoint& out);

/// Where this worker's listeners are bound (known once begin_forming() returned): what its hello and the
/// membership tell the others.
struct BoundPorts {
  core::Endpoint control;
  core::Endpoint data;
  std::optional<core::Endpoint> external;
};

/// What Formation hands to the rest of the core, wired by ClusterCore.
struct FormationRoutes {
  /// The initializer: a control frame from worker `index` once it is a member (not a hello).
  std::function<FrameAction(std::size_t index, FramedConnection&, const char* body, std::size_t size)> worker_frame;
  /// A worker: a control frame from the initializer once it authenticated (reject, membership, go and the rest).
  std::function<FrameAction(FramedConnection&, const char* body, std::size_t size)> initializer_frame;
  /// A member's control or outbound data connection closed (peer loss, or a formation that fails).
  std::function<void(std::size_t index, const std::string& cause)> peer_closed;
  /// A lost member's restarted process said hello while this cluster still runs (roll_back_on_loss).
  std::function<void(std::size_t index, const std::string& cause)> lose;
  /// The cluster formed (go): carry on what waited for it.
  std::function<void()> formed;
  /// Formation failed: close everything.
  std::function<void()> close_all;
};

/// Forming the cluster, as both sides run it (docs/cluster.md): the initializer identifies each worker on its
/// control port by its hello (refusing a wrong one), sends the membership once all have come and go once every
/// worker's data channels are up (formation_initializer.cpp); a joining worker reaches the initializer (retries,
/// warnings, join timeout), says hello and follows its membership, reject and go (formation_joining.cpp); both
/// open a data channel to every peer, retrying until join_timeout, and report channels-up (formation.cpp).
///
/// Threads: everything on the core's strand. Owns the formation promise, the joiners, the connection to the
/// initializer while joining, the join and retry timers and each outbound data channel's opening. Fills the
/// MemberTable (assign, control connections, outbound data connections), has DataChannels take the membership
/// and serve the outbound channels' acks, and moves the lifecycle from idle through joining/forming to running.
/// Every other control frame and every loss goes to ClusterCore through FormationRoutes.
class Formation : public OwnedByCore<Formation> {
 public:
  Formation(asio::io_context& io, Strand& strand, const ClusterConfig& config, Lifecycle& lifecycle,
            MemberTable& members, ConnectionFactory& connections, DataChannels& data, const BoundPorts& ports,
            FormationRoutes routes);

  [[nodiscard]] std::future<Membership> formed() { return formed_promise_.get_future(); }
  /// On the strand: the initializer waits for its workers (`control_listener` is started here); a worker joins.
  void start(core::Listener& control_listener);
  /// The initializer: worker `index` (0: itself) has every data channel up; go once every live worker has.
  void on_channels_up(std::size_t index);
  /// A worker: the initializer's membership, reject and go.
  void on_membership(Membership membership);
  void on_reject(const std::string& reason);
  void go();
  /// Settles the formation promise with `message` (once, and only while forming) and closes everything.
  void fail(const std::string& message);
  /// A worker's formation error: "join the cluster at <initializer>: <reason>".
  [[nodiscard]] std::string join_error(const std::string& reason) const;
  void close();

 private:
  /// A worker that said hello to the initializer before the cluster formed.
  struct Joiner {
    WorkerInfo info;
    std::shared_ptr<FramedConnection> connection;
  };
  /// Our data channel to one peer while it opens.
  struct Opening {
    bool outbound_ready = false;  // ... and it authenticated
    std::unique_ptr<Timer> connect_timer;
    std::unique_ptr<Socket> connecting;
  };

  // formation.cpp
  void apply_membership(Membership membership);
  void connect_data(std::size_t index);
  void on_data_connected(std::size_t index);
  void on_data_stream_out(std::size_t index, std::unique_ptr<core::ByteStream> stream);
  void on_outbound_ready(std::size_t index);
  // formation_initializer.cpp
  void on_control_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot);
  FrameAction on_unidentified_control(FramedConnection& connection, const char* body, std::size_t size);
  void on_hello(FramedConnection& connection, const HelloMessage& hello);
  void on_returning_member(FramedConnection& connection, const std::string& name);
  void complete_membership();
  // formation_joining.cpp
  void start_join();
  void connect_initializer();
  void on_initializer_stream(std::unique_ptr<core::ByteStream> stream);
  void on_initializer_connect_failed(const boost::system::error_code& error);

  asio::io_context& io_;
  Strand& strand_;
  const ClusterConfig& config_;
  Lifecycle& lifecycle_;
  MemberTable& members_;
  ConnectionFactory& connections_;
  DataChannels& data_;
  const BoundPorts& ports_;
  FormationRoutes routes_;
  std::string initializer_address_;

  std::promise<Membership> formed_promise_;
  std::vector<Opening> openings_;
  std::chrono::steady_clock::time_point data_deadline_;  // opening data channels gives up after join_timeout

  // initializer, while forming
  std::vector<Joiner> joiners_;
  std::set<std::size_t> channels_up_;
  // worker, while joining
  std::shared_ptr<FramedConnection> initializer_connection_;
  Timer join_timer_;
  Timer retry_timer_;
  std::unique_ptr<Socket> initializer_socket_;
  std::chrono::steady_clock::time_point join_deadline_;
  std::chrono::milliseconds retry_delay_{100};
  std::chrono::steady_clock::time_point last_reach_warning_{};
  std::chrono::steady_clock::time_point last_rejoin_warning_{};
  bool warned_unreachable_ = false;
};

}  // namespace roo::cluster
