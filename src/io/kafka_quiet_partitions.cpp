#include "kafka_quiet_partitions.hpp"

#include <algorithm>

namespace roo::io {

void KafkaQuietPartitions::reached_end(const PartitionId& partition, Clock::time_point now) {
  at_end_.try_emplace(partition, End{.since = now});
  if (last_message_ && *last_message_ == partition) {
    last_message_.reset();
  }
}

void KafkaQuietPartitions::held_back(Clock::time_point now) {
  for (auto& [partition, end] : at_end_) {
    if (!end.reported) {
      end.since = std::max(end.since, now);
    }
  }
}

void KafkaQuietPartitions::paused() {
  std::erase_if(at_end_, [](const auto& entry) { return !entry.second.reported; });
}

std::vector<PartitionId> KafkaQuietPartitions::newly_quiet(Clock::time_point now) {
  std::vector<PartitionId> quiet;
  for (auto& [partition, end] : at_end_) {
    if (!end.reported && now - end.since >= quiet_after_) {
      end.reported = true;
      quiet.push_back(partition);
    }
  }
  return quiet;
}

}  // namespace roo::io
