#include "kafka_consumer_lag.hpp"

#include "kafka_client_config.hpp"

#include <algorithm>

namespace roo::io {

void KafkaConsumerLag::attach(rd_kafka_t* client) {
  std::lock_guard lock(mutex_);
  client_ = client;
}

void KafkaConsumerLag::detach() {
  std::lock_guard lock(mutex_);
  client_ = nullptr;
  partitions_.clear();
}

void KafkaConsumerLag::assigned(PartitionId partition, std::int64_t offset) {
  std::lock_guard lock(mutex_);
  partitions_[partition] = Known{.start = offset};
}

void KafkaConsumerLag::started_at(PartitionId partition, std::int64_t offset) {
  std::lock_guard lock(mutex_);
  if (auto at = partitions_.find(partition); at != partitions_.end()) {
    at->second.start = offset;
  }
}

std::set<PartitionId> KafkaConsumerLag::without_start() const {
  std::lock_guard lock(mutex_);
  std::set<PartitionId> unknown;
  for (const auto& [partition, known] : partitions_) {
    if (known.start < 0) {
      unknown.insert(partition);
    }
  }
  return unknown;
}

void KafkaConsumerLag::reached_end(PartitionId partition, std::int64_t offset) {
  std::lock_guard lock(mutex_);
  if (auto at = partitions_.find(partition); at != partitions_.end()) {
    at->second.end_reached = std::max(at->second.end_reached, offset);
  }
}

std::int64_t KafkaConsumerLag::end_reached(PartitionId partition) const {
  std::lock_guard lock(mutex_);
  auto at = partitions_.find(partition);
  return at != partitions_.end() ? at->second.end_reached : RD_KAFKA_OFFSET_INVALID;
}

void KafkaConsumerLag::learned_end(PartitionId partition, std::int64_t offset) {
  std::lock_guard lock(mutex_);
  if (auto at = partitions_.find(partition); at != partitions_.end()) {
    at->second.end_learned = std::max(at->second.end_learned, offset);
  }
}

std::vector<PartitionLag> KafkaConsumerLag::read() const {
  std::lock_guard lock(mutex_);
  if (client_ == nullptr || partitions_.empty()) {
    return {};
  }
  KafkaPartitions positions(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
  for (const auto& [partition, known] : partitions_) {
    rd_kafka_topic_partition_list_add(positions.get(), topics_[partition.topic].c_str(), partition.partition);
  }
  (void)rd_kafka_position(client_, positions.get());  // fills each element's offset or err; never fails as a whole
  std::vector<PartitionLag> lags;
  int i = 0;
  for (const auto& [partition, known] : partitions_) {
    const rd_kafka_topic_partition_t& element = positions->elems[i++];
    std::int64_t high = known_end_locked(element.topic, element.partition, known.end_learned);
    std::int64_t next = element.err == RD_KAFKA_RESP_ERR_NO_ERROR ? element.offset : RD_KAFKA_OFFSET_INVALID;
    next = std::max({next, known.end_reached, known.start});
    if (high < 0 || next < 0) {
      continue;
    }
    lags.push_back(PartitionLag{.topic = topics_[partition.topic],
                                .partition = partition.partition,
                                .lag = std::max<std::int64_t>(high - next, 0)});
  }
  return lags;
}

std::int64_t KafkaConsumerLag::known_end(PartitionId partition) const {
  std::lock_guard lock(mutex_);
  if (client_ == nullptr || partition.topic >= topics_.size()) {
    return RD_KAFKA_OFFSET_INVALID;
  }
  auto at = partitions_.find(partition);
  return known_end_locked(topics_[partition.topic].c_str(), partition.partition,
                          at != partitions_.end() ? at->second.end_learned : RD_KAFKA_OFFSET_INVALID);
}

std::int64_t KafkaConsumerLag::known_end_locked(const char* topic, std::int32_t partition, std::int64_t learned) const {
  std::int64_t low = RD_KAFKA_OFFSET_INVALID;
  std::int64_t high = RD_KAFKA_OFFSET_INVALID;
  if (rd_kafka_get_watermark_offsets(client_, topic, partition, &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    high = RD_KAFKA_OFFSET_INVALID;
  }
  // Offsets only grow, and librdkafka's "unknown" (RD_KAFKA_OFFSET_INVALID) is negative: the largest is the latest.
  return std::max(high, learned);
}

}  // namespace roo::io
