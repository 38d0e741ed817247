#pragma once

#include "roo/io/source.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

namespace roo::io {

/// Finds the partitions a Kafka consumer stopped fetching: messages wait in the brokers, the source polls, and yet
/// the partition's position does not move. Seen in CI after a broker restart around a worker's restart (librdkafka
/// 2.0.2, partitions assigned with rd_kafka_incremental_assign): the source read nothing more, with no error, for
/// minutes. The source then assigns such a partition again at its position.
///
/// Pure bookkeeping, no I/O: the source tells it how long it did not poll (backpressure: a partition is not read
/// then, through no fault of librdkafka's) and, when a check is due, each partition's position and lag. A partition
/// is stalled when two readings `interval` apart show the same position and a lag at both, not at its end, and the
/// source polled for at least half of that time. One thread (the source's poll thread).
class KafkaFetchStallCheck {
 public:
  using Clock = std::chrono::steady_clock;

  /// A partition's reading: its position (the next offset the source reads; negative: unknown, nothing read yet),
  /// its lag against the high watermark (negative: unknown), and whether librdkafka said it has nothing at the
  /// position (a read_committed consumer stops before an open transaction: a lag, yet nothing to read).
  struct Reading {
    std::int64_t position = -1;
    std::int64_t lag = -1;
    bool at_end = false;
  };

  KafkaFetchStallCheck(Clock::duration interval, Clock::time_point now) : interval_(interval), last_check_(now) {}

  /// The source did not poll for `duration` (it waited for room in the mailbox, or its partitions were paused).
  void did_not_poll(Clock::duration duration) { not_polling_ += duration; }

  [[nodiscard]] bool due(Clock::time_point now) const { return now - last_check_ >= interval_; }

  /// Takes this check's readings (the assigned partitions) and returns the stalled ones.
  [[nodiscard]] std::vector<PartitionId> check(Clock::time_point now, const std::map<PartitionId, Reading>& readings);

  /// A partition assigned again (or newly) starts over: it has no earlier reading.
  void forget(const PartitionId& partition) { previous_.erase(partition); }

 private:
  Clock::duration interval_;
  Clock::time_point last_check_;
  Clock::duration not_polling_{};
  std::map<PartitionId, Reading> previous_;
};

}  // namespace roo::io
