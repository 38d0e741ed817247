#pragma once

#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/frame_batch.hpp"
#include "roo/core/stream_registry.hpp"
#include "roo/graph/plan.hpp"
#include "roo/io/http_exchange.hpp"
#include "roo/io/sink.hpp"
#include "roo/io/source.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace roo::runtime {

/// Where a worker's sources and sinks run: what their settings depend on besides the plan.
struct IoPlacement {
  std::string app_name;
  std::string worker_name;
  std::size_t worker_index = 0;  ///< in the cluster (0 alone)
  std::size_t worker_count = 1;
  /// Kafka sources: this worker's rank among the workers that read partitions, and their count (PartitionReaders:
  /// the live workers of the last formation or rescale move).
  std::size_t partition_reader = 0;
  std::size_t partition_readers = 1;
  bool checkpoints = false;                      ///< Kafka sinks then write in transactions (exactly once)
  std::chrono::milliseconds broker_wait{30000};  ///< Kafka sources: how long unreachable brokers are retried at start
  /// On a cluster: who owns each connector stream cluster-wide (the current cluster's); null alone.
  std::shared_ptr<core::StreamRegistry> stream_registry;
};

/// Each http source's exchange (io::HttpExchange), by source index (null for other kinds).
using HttpExchanges = std::vector<std::unique_ptr<io::HttpExchange>>;

/// An exchange for every http source of `plan` (constructed without I/O), by source index: made before the sinks, as
/// an http_reply sink is the reply face of its source's exchange.
[[nodiscard]] HttpExchanges make_http_exchanges(const graph::Plan& plan, boost::asio::io_context& io,
                                                core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool);

/// The sink `plan` describes (TCP, Kafka, NATS, an http source's replies, a connector sink or a discard sink),
/// constructed without I/O. A Kafka sink with checkpoints on is transactional, with the transactional.id
/// "roo.<app>.<sink>.<worker>": the same for the same worker across restarts, so that a restarted worker fences its
/// predecessor (docs/kafka.md). A connector sink with checkpoints on commits with them (two-phase commit on stream
/// "<app>-w-<worker>-id-<index>", docs/connectors-sink.md).
/// `io` is the executor's data path; `own_thread_io` is run by a thread of its own, for the sinks the executor waits
/// on while it does not run `io` (a connector sink's recovery and last checkpoint).
[[nodiscard]] std::unique_ptr<io::Sink> make_sink(const graph::SinkPlan& plan, std::size_t index,
                                                  boost::asio::io_context& io, boost::asio::io_context& own_thread_io,
                                                  const IoPlacement& placement, HttpExchanges& exchanges);

/// The Kafka source `plan` describes (plan.kind() is kafka), reading this worker's share of the partitions
/// (placement.partition_reader of partition_readers) from `position` on (partitions it does not name: the group's
/// committed offset, else the configured start). Its consumer group is the plan's, or "roo.<app>".
[[nodiscard]] std::unique_ptr<io::Source> make_kafka_source(
    const graph::SourcePlan& plan, std::size_t index, std::uint32_t generation, const io::SourcePosition& position,
    const IoPlacement& placement, core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool);

/// The connector source `plan` describes (plan.kind() is connector), answering NOTIFYs from `position`. Worker i of a
/// cluster listens on the configured port + i (port 0 stays 0): the workers of `roo run --workers N` share a host.
/// Throws core::UsageError when that passes 65535.
[[nodiscard]] std::unique_ptr<io::Source> make_connector_source(
    const graph::SourcePlan& plan, std::size_t index, std::uint32_t generation, const io::SourcePosition& position,
    const IoPlacement& placement, boost::asio::io_context& io, core::BoundedMailbox<core::FrameBatch>& mailbox,
    core::BatchPool& pool);

/// Where worker `worker` of the cluster, reached at `host`, listens for connector source `plan`'s connectors
/// ("host:port", its port as make_connector_source binds it), for a RESTART that sends them there when this worker
/// leaves; empty when the port is the system's choice (0) or passes 65535.
[[nodiscard]] std::string connector_address(const graph::SourcePlan& plan, std::size_t worker, const std::string& host);

/// Whether `plan`'s source can replay from a position (Kafka, connector): the worker makes it with
/// make_replayable_source after the recovery, and again after each rollback.
[[nodiscard]] bool is_replayable(const graph::SourcePlan& plan);

/// The replayable source `plan` describes, by its kind's own factory (make_kafka_source, make_connector_source).
[[nodiscard]] std::unique_ptr<io::Source> make_replayable_source(
    const graph::SourcePlan& plan, std::size_t index, std::uint32_t generation, const io::SourcePosition& position,
    const IoPlacement& placement, boost::asio::io_context& io, core::BoundedMailbox<core::FrameBatch>& mailbox,
    core::BatchPool& pool);

/// The NATS source `plan` describes (plan.kind() is nats). Without a queue group of its own it subscribes in the
/// group "roo.<app>.<source>": the application's workers share the subject's messages, each handled once.
[[nodiscard]] std::unique_ptr<io::Source> make_nats_source(const graph::SourcePlan& plan, std::size_t index,
                                                           const IoPlacement& placement,
                                                           core::BoundedMailbox<core::FrameBatch>& mailbox,
                                                           core::BatchPool& pool);

/// "host:port" of a TCP sink, "the connector sink at host:port", "Kafka topic 't'" of a Kafka sink, "NATS subject 's'
/// at <url>" of a NATS sink, "the clients of http source 's'" of a reply sink, "nowhere (a discard sink)": where a
/// sink's undelivered output was going.
[[nodiscard]] std::string sink_destination(const graph::SinkPlan& plan);

}  // namespace roo::runtime
