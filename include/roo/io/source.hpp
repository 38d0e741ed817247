#pragma once

#include "roo/core/endpoint.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace roo::io {

/// One partition a source reads: the index of its topic in the source's list (Kafka) and the partition's number.
struct PartitionId {
  std::uint32_t topic = 0;
  std::int32_t partition = 0;
  auto operator<=>(const PartitionId&) const = default;
};
/// Where a replayable source is: for each partition it reads, the offset of the next message to process (a Kafka
/// partition's offset; a file is topic 0, partition 0 and a byte offset). The runtime folds it from the frames the
/// executor processed (core::FrameBatch::meta), so it is the position of the checkpoint's cut, not of the source's
/// reads.
using SourcePosition = std::map<PartitionId, std::int64_t>;

/// How far a source's reading is behind one partition's end: the partition's high watermark minus the next offset
/// the source will read (Kafka consumers' "records lag"; messages the source read but the executor has not processed
/// yet do not count).
struct PartitionLag {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t lag = 0;
  bool operator==(const PartitionLag&) const = default;
};

/// Something that feeds events into the worker: it fills core::FrameBatch buffers and pushes them into
/// the Python executor's mailbox; when the mailbox is full it stops reading until told there is room.
/// Lifecycle: construct (no I/O) → start() → stop(on_stopped). Runs on the worker's io_context.
class Source {
 public:
  virtual ~Source() = default;

  /// Binds and listens (or connects). Throws core::Error with the source name and address on failure.
  virtual void start() = 0;

  /// Stops accepting and reading, hands over every frame already read, then calls `on_stopped` on the
  /// io_context's thread. Thread-safe and idempotent (later calls only add callbacks).
  virtual void stop(std::function<void()> on_stopped) = 0;
  /// This worker leaves the cluster (a shrink): when stop() lets its clients go, it tells those that can follow
  /// (connectors: RESTART with the address) to reconnect to `address` ("host:port", another worker's source). Call
  /// before stop(). Thread-safe. Sources whose clients cannot be told so ignore it.
  virtual void leave_for(std::string address) { (void)address; }

  /// The address actually bound (useful with port 0); an empty Endpoint for a source that does not listen.
  [[nodiscard]] virtual core::Endpoint local_endpoint() const = 0;

  /// Whether seek() can replay from a position (Kafka: yes; TCP: no, what was read is gone).
  [[nodiscard]] virtual bool replayable() const { return false; }
  /// Before start(): continue from `position` (partitions it does not name start as configured).
  virtual void seek(const SourcePosition& position) { (void)position; }
  /// `position` is durable (its checkpoint is complete, or every output before it was acknowledged): record it
  /// where the external system keeps it (Kafka: the consumer group's committed offsets). Thread-safe; asynchronous.
  virtual void commit(const SourcePosition& position) { (void)position; }
  /// Where each partition it reads started: the offset it was assigned at, for the partitions where that is a real
  /// offset (Kafka: a partition started at its end under `latest` has that end's offset). A rescale hands a partition
  /// none of whose messages were processed on at this offset (docs/kafka.md). Any thread.
  [[nodiscard]] virtual SourcePosition starts() const { return {}; }

  /// Each partition's lag (PartitionLag) as last known; a partition whose end or position is not known yet is left
  /// out, and a stopping source reports none. Any thread (the metrics thread asks every period), between start() and
  /// the Source's destruction; never waits for the network or for the source's own thread.
  [[nodiscard]] virtual std::vector<PartitionLag> consumer_lag() const { return {}; }
};

}  // namespace roo::io
