#pragma once

#include "cluster_lifecycle.hpp"
#include "connection_factory.hpp"
#include "gathered_queries.hpp"
#include "member_table.hpp"
#include "rescale_protocol.hpp"

#include "roo/cluster/cluster.hpp"

#include <functional>
#include <memory>
#include <string>

namespace roo::cluster {

/// The external channel (spec §2.5): clients' connections on the external port (after the external secret's
/// challenge–response, if set), their requests (Print, CleanShutdown, ClusterStatusQuery and the queries) and the
/// answers, merged from every worker where the query is the cluster's; a ShrinkRequest goes to RescaleProtocol.
///
/// Threads: everything on the core's strand. Owns nothing but its clients' connections (held by their handlers).
/// Reads the MemberTable (names, liveness) for status answers, has GatheredQueries collect the workers' answers,
/// and asks for a stop (CleanShutdown) through the `request_stop` ClusterCore gives it (Cluster::request_stop()).
class ExternalChannel {
 public:
  ExternalChannel(const ClusterConfig& config, const Lifecycle& lifecycle, const MemberTable& members,
                  ConnectionFactory& connections, GatheredQueries& queries, RescaleProtocol& rescale,
                  std::function<void()> request_stop)
      : config_(config),
        lifecycle_(lifecycle),
        members_(members),
        connections_(connections),
        queries_(queries),
        rescale_(rescale),
        request_stop_(std::move(request_stop)) {}

  /// A client's connection, accepted on the external port.
  void on_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot);

 private:
  FrameAction on_frame(FramedConnection& connection, const char* body, std::size_t size);
  [[nodiscard]] std::string status_json(bool roo_details) const;
  [[nodiscard]] std::string worker_name(std::size_t index) const;

  const ClusterConfig& config_;
  const Lifecycle& lifecycle_;
  const MemberTable& members_;
  ConnectionFactory& connections_;
  GatheredQueries& queries_;
  RescaleProtocol& rescale_;
  std::function<void()> request_stop_;
};

}  // namespace roo::cluster
