#pragma once

#include "roo/io/source.hpp"

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace roo::io {

/// A Kafka source's lag per partition (Source::consumer_lag), read on any thread from what librdkafka already knows:
/// each partition's position (the offset after the last message handed to the source) and its cached high watermark
/// (updated by every fetch response). Neither call blocks or sends a request, and both are thread-safe.
///
/// The source's poll thread adds what librdkafka's position misses: where each partition started (the position is
/// unknown until its first message: a paused source may hold a partition's whole backlog unread), the end offset of
/// each end-of-partition signal (the position stays before transaction markers, and a partition at its end may never
/// have had a message) and high watermarks it asked the brokers for itself (a paused partition is not fetched, so its
/// cached watermark stops moving while the input grows). Offsets only grow, so the largest known is the latest.
///
/// Threads: attach() and detach() on whichever thread owns the client's lifetime (the client stays alive while
/// attached); the other writers on the poll thread; read() on any thread. One mutex, held only for these short calls.
class KafkaConsumerLag {
 public:
  explicit KafkaConsumerLag(std::vector<std::string> topics) : topics_(std::move(topics)) {}

  void attach(rd_kafka_t* client);
  /// No read() uses the client after this returns.
  void detach();

  /// The source reads `partition` from now on, from `offset` (negative: librdkafka's stored offset or a reset,
  /// unknown here until started_at()).
  void assigned(PartitionId partition, std::int64_t offset);
  /// The brokers said where a partition whose start was unknown started (its committed offset, or its beginning).
  void started_at(PartitionId partition, std::int64_t offset);
  /// The assigned partitions whose start is unknown.
  [[nodiscard]] std::set<PartitionId> without_start() const;
  /// librdkafka said the partition has nothing at or after `offset`.
  void reached_end(PartitionId partition, std::int64_t offset);
  /// The brokers said the partition's high watermark is `offset`.
  void learned_end(PartitionId partition, std::int64_t offset);
  /// The offset of the partition's last end-of-partition signal (negative: none yet).
  [[nodiscard]] std::int64_t end_reached(PartitionId partition) const;

  [[nodiscard]] std::vector<PartitionLag> read() const;

  /// The partition's high watermark as best known, never asking the brokers: librdkafka's from its latest fetch
  /// answer, or the brokers' answer while paused (learned_end), whichever is later; negative when unknown.
  [[nodiscard]] std::int64_t known_end(PartitionId partition) const;

 private:
  struct Known {
    std::int64_t start = RD_KAFKA_OFFSET_INVALID;        // the offset the source started reading at
    std::int64_t end_reached = RD_KAFKA_OFFSET_INVALID;  // the offset of the last end-of-partition signal
    std::int64_t end_learned = RD_KAFKA_OFFSET_INVALID;  // the last high watermark the brokers were asked for
  };

  /// known_end with mutex_ held and a client attached.
  [[nodiscard]] std::int64_t known_end_locked(const char* topic, std::int32_t partition, std::int64_t learned) const;

  const std::vector<std::string> topics_;
  mutable std::mutex mutex_;
  rd_kafka_t* client_ = nullptr;
  std::map<PartitionId, Known> partitions_;
};

}  // namespace roo::io
