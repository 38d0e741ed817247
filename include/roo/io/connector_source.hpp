#pragma once

#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/endpoint.hpp"
#include "roo/core/frame_batch.hpp"
#include "roo/core/stream_registry.hpp"
#include "roo/io/source.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace roo::io {

struct ConnectorSourceConfig {
  std::string name;                  ///< the app's source name: shown in logs
  core::Endpoint listen;             ///< the config's host:port (plus the worker's index, docs/connectors-source.md)
  std::uint32_t source_index = 0;    ///< stamped on every FrameBatch this source produces
  std::uint32_t generation = 0;      ///< stamped too: which start of the source (a rollback makes a new one)
  std::string cookie;                ///< a HELLO must carry exactly this
  std::uint32_t max_credits = 10;    ///< OK's initial credits, and what an ACK tops the connector up to
  std::uint32_t refill_credits = 8;  ///< credits are topped up once the connector has this many or fewer left
  std::size_t max_frame_bytes = 16 * 1024 * 1024;  ///< after HELLO: a longer frame closes its connection
  std::size_t max_connections = 64;                ///< connectors connected at once (more wait in the backlog)
  std::size_t batch_bytes = 64 * 1024;             ///< hand a batch over once it holds this many payload bytes
  /// A connection that has not sent a HELLO within this long is closed (0: never). After the HELLO a connector may
  /// rest as long as it likes.
  std::chrono::milliseconds hello_timeout{10000};
  /// On a cluster: who owns each stream cluster-wide (a NOTIFY is answered once the cluster granted the stream, with
  /// the cluster's point of reference). Null: this worker alone decides.
  std::shared_ptr<core::StreamRegistry> registry;
  /// A connection that leaves keeps a stream it took ids of that no checkpoint covers yet with this worker until
  /// one does (on a cluster with checkpoints: another worker must not acknowledge ids this one took).
  bool hold_uncommitted_streams = false;
};

/// The worker side of Wallaroo's connector source protocol (spec §3.3, docs/connectors-source.md): connector
/// processes (wallaroo.experimental's AtLeastOnceSourceConnector) connect, say HELLO with the cookie, open streams
/// (NOTIFY) and send MESSAGEs within the credits they are given. Every kept MESSAGE is one frame with
/// core::FrameBatch::Meta {topic/partition: the stream id's high/low 32 bits (connector_stream_partition), offset:
/// the message id, time: the event time if positive, key}, so the runtime's SourcePositions fold each stream's
/// position (last processed id + 1). replayable(): seek() gives the positions a NOTIFY is answered from, commit()
/// acknowledges them to the connectors owning the streams.
///
/// Runs on `io`: the listener on its own strand, each connection on its own. A full mailbox stops the connection's
/// reading and its credits until there is room. stop() sends every connector RESTART and closes it (they reconnect
/// to the next start of the source). `mailbox` and `pool` must outlive the source's activity, as for
/// make_tcp_source. start() throws core::Error "listen on <host:port> for connector source '<name>': <cause>".
[[nodiscard]] std::unique_ptr<Source> make_connector_source(boost::asio::io_context& io, ConnectorSourceConfig config,
                                                            core::BoundedMailbox<core::FrameBatch>& mailbox,
                                                            core::BatchPool& pool);

/// The partition a connector stream's position is kept under: the stream id's high 32 bits as the topic, its low 32
/// bits as the partition.
[[nodiscard]] PartitionId connector_stream_partition(std::uint64_t stream_id);
/// The stream id a partition of a connector source's position stands for (the inverse).
[[nodiscard]] std::uint64_t connector_stream_id(PartitionId partition);

}  // namespace roo::io
