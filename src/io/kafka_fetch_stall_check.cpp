#include "kafka_fetch_stall_check.hpp"

namespace roo::io {

std::vector<PartitionId> KafkaFetchStallCheck::check(Clock::time_point now,
                                                     const std::map<PartitionId, Reading>& readings) {
  // Polled for at least half the time since the last check: long enough for librdkafka to have fetched something
  // of every partition with a lag (a fetch waits fetch.wait.max.ms, 500 ms by default, at most).
  bool polled = (now - last_check_) >= 2 * not_polling_;
  std::vector<PartitionId> stalled;
  for (const auto& [partition, reading] : readings) {
    auto before = previous_.find(partition);
    bool standing = before != previous_.end() && before->second.position == reading.position;
    if (polled && standing && before->second.lag > 0 && reading.lag > 0 && !reading.at_end) {
      stalled.push_back(partition);
    }
  }
  previous_ = readings;
  for (const auto& partition : stalled) {
    previous_.erase(partition);
  }
  last_check_ = now;
  not_polling_ = {};
  return stalled;
}

}  // namespace roo::io
