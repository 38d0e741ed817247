#pragma once

#include "cluster_asio.hpp"
#include "cluster_lifecycle.hpp"
#include "connection_factory.hpp"
#include "formation_routes.hpp"
#include "member_table.hpp"
#include "wire.hpp"

#include "roo/cluster/cluster.hpp"
#include "roo/core/listener.hpp"

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace roo::cluster {

class Formation;

/// Formation on the initializer's side: identify each worker that connects to the control port by its hello,
/// refuse a wrong one, send the membership once all have come, and send go once every worker's data channels are
/// up. With roll_back_on_loss, a lost member's restarted process saying hello closes this cluster.
///
/// Threads: everything on the core's strand. Owns the workers that said hello before the membership (joiners) and
/// who reported channels-up. Has Formation apply the membership and go; fills the MemberTable's control
/// connections; hands a member's later control frames, a closed member connection and a returning member to
/// ClusterCore through FormationRoutes.
class InitializerFormation {
 public:
  InitializerFormation(const ClusterConfig& config, Lifecycle& lifecycle, MemberTable& members,
                       ConnectionFactory& connections, const BoundPorts& ports, const FormationRoutes& routes,
                       Formation& formation)
      : config_(config),
        lifecycle_(lifecycle),
        members_(members),
        connections_(connections),
        ports_(ports),
        routes_(routes),
        formation_(formation) {}

  /// Starts taking workers on `control_listener`; a cluster of one forms at once.
  void start(core::Listener& control_listener);
  /// Worker `index` (0: this one) has every data channel up; go once every live worker has.
  void on_channels_up(std::size_t index);
  void close();

 private:
  /// A worker that said hello before the cluster formed.
  struct Joiner {
    WorkerInfo info;
    std::shared_ptr<FramedConnection> connection;
  };

  void on_control_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot);
  FrameAction on_unidentified_control(FramedConnection& connection, const char* body, std::size_t size);
  void on_hello(FramedConnection& connection, const HelloMessage& hello);
  /// A lost member's restarted process says hello while this cluster still runs (roll_back_on_loss).
  void on_returning_member(FramedConnection& connection, const std::string& name);
  void complete_membership();
  /// How many workers the cluster forms with, this one included: the layout's live ones, or worker_count.
  [[nodiscard]] std::size_t expected_workers() const;
  /// With a layout: whether `name` is one of its live workers.
  [[nodiscard]] bool in_layout(const std::string& name) const;
  /// With a layout, once formed: the workers it did not have, who said hello meanwhile, join as joiners.
  void admit_latecomers();

  const ClusterConfig& config_;
  Lifecycle& lifecycle_;
  MemberTable& members_;
  ConnectionFactory& connections_;
  const BoundPorts& ports_;
  const FormationRoutes& routes_;
  Formation& formation_;
  std::vector<Joiner> joiners_;
  std::vector<Joiner> latecomers_;  // with a layout: said hello, not in it; they join once the cluster formed
  std::set<std::size_t> channels_up_;
};

}  // namespace roo::cluster
