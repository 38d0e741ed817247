#pragma once

#include "cluster_lifecycle.hpp"
#include "member_table.hpp"
#include "wire.hpp"

#include "roo/cluster/cluster.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace roo::cluster {

/// Checkpoints over the control plane (docs/resilience.md): the initializer asks every worker to take its part
/// (checkpoint-begin), each worker reports how its part went (checkpoint-part), and the initializer announces the
/// checkpoint complete. What a part holds is the runtime's business: here it is text. The markers that travel in
/// order with the data are DataChannels' (they need the data channel's ordering).
///
/// Threads: everything on the core's strand. Owns no state of its own: it writes on the control connections of
/// the MemberTable and calls the runtime's checkpoint hooks. ClusterCore routes the control frames to it.
class CheckpointProtocol {
 public:
  CheckpointProtocol(const ClusterConfig& config, const ClusterHooks& hooks, const Lifecycle& lifecycle,
                     MemberTable& members)
      : config_(config), hooks_(hooks), lifecycle_(lifecycle), members_(members) {}

  /// The initializer: checkpoint-begin to every live worker.
  void begin(std::uint64_t id);
  /// The initializer: checkpoint-complete to every live worker.
  void announce_complete(std::uint64_t id);
  /// A worker: its part of checkpoint `id`, to the initializer.
  void report_part(std::uint64_t id, bool ok, const std::string& text);
  /// A checkpoint message from the initializer (worker side); false when it is not one or malformed.
  [[nodiscard]] bool on_checkpoint_frame(MessageType type, core::BigEndianReader& reader);
  /// A worker's checkpoint-part (initializer side); false when malformed.
  [[nodiscard]] bool on_checkpoint_part(std::size_t index, core::BigEndianReader& reader);

 private:
  /// To every live worker but the initializer, on its control connection.
  void to_workers(std::vector<char> frame);

  const ClusterConfig& config_;
  const ClusterHooks& hooks_;
  const Lifecycle& lifecycle_;
  MemberTable& members_;
};

}  // namespace roo::cluster
