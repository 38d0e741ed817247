#include "kafka_quiet_partitions.hpp"

namespace roo::io {

void KafkaQuietPartitions::reached_end(const PartitionId& partition, std::int64_t offset, Clock::time_point now) {
  auto [entry, added] = at_end_.try_emplace(partition, End{.since = now, .offset = offset});
  if (!added && entry->second.offset == offset) {
    entry->second.confirmed = true;
  } else if (!added) {  // another end with no message between (messages past it were aborted): quiet from now
    entry->second = End{.since = now, .offset = offset};
  }
  if (last_message_ && *last_message_ == partition) {
    last_message_.reset();
  }
}

void KafkaQuietPartitions::paused() {
  for (auto& [partition, end] : at_end_) {
    end.confirmed = end.reported;
  }
}

std::vector<PartitionId> KafkaQuietPartitions::newly_quiet(Clock::time_point now, const KnownEnd& known_end) {
  std::vector<PartitionId> quiet;
  for (auto& [partition, end] : at_end_) {
    if (end.reported || !end.confirmed || now - end.since < quiet_after_) {
      continue;
    }
    if (known_end(partition) > end.offset) {  // messages past the end it signalled: fetched and queued, or to come
      continue;
    }
    end.reported = true;
    quiet.push_back(partition);
  }
  return quiet;
}

}  // namespace roo::io
