#pragma once

#include "cluster_asio.hpp"

#include "roo/cluster/cluster.hpp"
#include "roo/core/endpoint.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace roo::cluster {

/// Where this worker's listeners are bound (known once begin_forming() returned): what its hello and the
/// membership tell the others.
struct BoundPorts {
  core::Endpoint control;
  core::Endpoint data;
  std::optional<core::Endpoint> external;
};

/// What formation hands to the rest of the core, wired by ClusterCore.
struct FormationRoutes {
  /// The initializer: a control frame from worker `index` once it is a member (not a hello).
  std::function<FrameAction(std::size_t index, FramedConnection&, const char* body, std::size_t size)> worker_frame;
  /// A worker: a control frame from the initializer once it authenticated (reject, membership, go and the rest).
  std::function<FrameAction(FramedConnection&, const char* body, std::size_t size)> initializer_frame;
  /// A member's control or outbound data connection closed (peer loss, or a formation that fails).
  std::function<void(std::size_t index, const std::string& cause)> peer_closed;
  /// A lost member's restarted process said hello while this cluster still runs (roll_back_on_loss).
  std::function<void(std::size_t index, const std::string& cause)> lose;
  /// The initializer: a worker said hello after the cluster formed (growing): admitted (empty) or why not.
  std::function<std::string(const std::shared_ptr<FramedConnection>&, const WorkerInfo&)> admit;
  /// Our outbound data channel to worker `index`, opened after formation (growing), is up.
  std::function<void(std::size_t index)> channel_grown;
  /// The cluster formed (go): carry on what waited for it.
  std::function<void()> formed;
  /// Formation failed: close everything.
  std::function<void()> close_all;
};

}  // namespace roo::cluster
