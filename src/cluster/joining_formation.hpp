#pragma once

#include "cluster_asio.hpp"
#include "cluster_lifecycle.hpp"
#include "connection_factory.hpp"
#include "formation_routes.hpp"
#include "member_table.hpp"
#include "owned_by_core.hpp"

#include "roo/cluster/cluster.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace roo::cluster {

class Formation;

/// Formation on a joining worker's side: reach the initializer (retrying, with a warning at most every 10 s, until
/// join_timeout), say hello, and hand its frames on; a connection lost before the membership means joining again.
///
/// Threads: everything on the core's strand. Owns the connection to the initializer (which becomes the
/// MemberTable's control connection 0), the join and retry timers. Has Formation fail or apply the membership;
/// hands the initializer's frames and its loss to ClusterCore through FormationRoutes.
class JoiningFormation : public OwnedByCore<JoiningFormation> {
 public:
  JoiningFormation(asio::io_context& io, Strand& strand, const ClusterConfig& config, Lifecycle& lifecycle,
                   const MemberTable& members, ConnectionFactory& connections, const BoundPorts& ports,
                   const FormationRoutes& routes, Formation& formation);

  void start();
  /// The initializer's membership and reject.
  void on_membership(Membership membership);
  void on_reject(const std::string& reason);
  /// The worker at the address we were given is not the initializer: join at `initializer` instead (JoinRedirect).
  void on_join_at(const core::Endpoint& initializer);
  /// Where the initializer's control channel is (--join's or --control's address, or where a worker sent us on).
  [[nodiscard]] const core::Endpoint& target() const { return target_; }
  [[nodiscard]] const std::shared_ptr<FramedConnection>& initializer_connection() const {
    return initializer_connection_;
  }
  void close();

 private:
  void connect_initializer();
  void on_initializer_stream(std::unique_ptr<core::ByteStream> stream);
  void on_initializer_connect_failed(const boost::system::error_code& error);

  asio::io_context& io_;
  Strand& strand_;
  const ClusterConfig& config_;
  Lifecycle& lifecycle_;
  const MemberTable& members_;
  ConnectionFactory& connections_;
  const BoundPorts& ports_;
  const FormationRoutes& routes_;
  Formation& formation_;
  core::Endpoint target_;  // the initializer's control address: --join's, or where a worker sent us (join-at)
  std::string initializer_address_;
  int redirects_ = 0;
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
