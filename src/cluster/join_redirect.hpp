#pragma once

#include "cluster_asio.hpp"
#include "connection_factory.hpp"

#include "roo/cluster/cluster.hpp"
#include "roo/core/listener.hpp"

#include <cstddef>
#include <functional>

namespace roo::cluster {

/// A worker that is not the initializer listens on its --my-control only to send a joiner on: a worker started with
/// `--join <this worker's control address>` proves the cluster secret like any control connection, says hello, and
/// is told where the initializer's control channel is (join-at); it joins there (JoiningFormation). Wallaroo let a
/// joiner name any worker; the cluster's control channel stays a star around the initializer.
///
/// Threads: everything on the core's strand. Holds nothing but the connections it is answering (through the
/// ConnectionFactory's unidentified set).
class JoinRedirect {
 public:
  /// `initializer`: where this worker reached the initializer's control channel (--join's address, or where a
  /// worker sent it on to).
  JoinRedirect(const ClusterConfig& config, ConnectionFactory& connections, std::function<core::Endpoint()> initializer)
      : config_(config), connections_(connections), initializer_(std::move(initializer)) {}

  void start(core::Listener& control_listener);

 private:
  void on_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot);
  FrameAction on_frame(FramedConnection& connection, const char* body, std::size_t size);

  const ClusterConfig& config_;
  ConnectionFactory& connections_;
  std::function<core::Endpoint()> initializer_;
};

}  // namespace roo::cluster
