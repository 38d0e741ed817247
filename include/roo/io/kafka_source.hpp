#pragma once

#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/frame_batch.hpp"
#include "roo/io/source.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace roo::io {

/// librdkafka properties passed through verbatim (SASL, TLS, tuning): applied last, so they win over Roo's own.
using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

struct KafkaSourceConfig {
  std::string name;                 ///< the app's source name: shown in logs
  std::uint32_t source_index = 0;   ///< stamped on every FrameBatch
  std::uint32_t generation = 0;     ///< stamped on every FrameBatch (FrameBatch::generation)
  std::vector<std::string> topics;  ///< one or more
  std::string brokers;              ///< bootstrap.servers: "host:port,host:port"
  std::string group_id;             ///< the consumer group offsets are committed to
  enum class Start { earliest, latest };
  Start start = Start::earliest;    ///< where a partition with no committed offset (and no seek) starts
  KafkaProperties properties;
  /// This worker's share: partition p of every topic is read by worker p % worker_count (Roo assigns partitions
  /// itself, so a checkpoint's offsets stay with the worker that processed them). New partitions are picked up.
  std::size_t worker_index = 0;
  std::size_t worker_count = 1;
  std::size_t batch_bytes = 64 * 1024;  ///< hand a batch over once it holds this many payload bytes
  std::size_t max_size = 1 << 20;       ///< a larger message is skipped, counted, logged with topic/partition/offset
  /// How long the brokers may be unreachable at start before start() gives up (retrying meanwhile, one line each).
  std::chrono::milliseconds broker_wait{30000};
  /// How often the source asks for the topics' partitions, to start reading partitions added since.
  std::chrono::milliseconds partition_refresh{5000};
  /// How long a partition must sit at its end with nothing new before a batch reports it quiet
  /// (FrameBatch::news.quiet), by this source's clock (src/io/kafka_quiet_partitions.hpp): the idleness of the
  /// source's watermark (graph::EventTimeSpec::idleness_ns). 0: as soon as it reaches its end.
  std::chrono::nanoseconds quiet_after{0};
};

/// A Kafka consumer (librdkafka) over the topics' partitions this worker owns. It polls on its own thread, fills
/// FrameBatches (payloads, with Meta: partition, offset, timestamp, key) and pushes them into `mailbox`; when the
/// mailbox is full it pauses its partitions and resumes when there is room (backpressure). Replayable: seek()
/// before start() assigns the partitions at those offsets; commit() stores offsets in the group asynchronously.
/// Errors (unknown topic, authentication, broker gone) are logged in one line naming the source; a broker that comes
/// back is read on from where the source was.
[[nodiscard]] std::unique_ptr<Source> make_kafka_source(KafkaSourceConfig config,
                                                        core::BoundedMailbox<core::FrameBatch>& mailbox,
                                                        core::BatchPool& pool);

}  // namespace roo::io
