#include "kafka_partition_assignment.hpp"

#include "kafka_client_config.hpp"

namespace roo::io {

KafkaTopicMetadata read_topic_metadata(rd_kafka_t* client, const std::vector<rd_kafka_topic_t*>& topics,
                                       std::chrono::milliseconds timeout) {
  KafkaTopicMetadata result;
  result.topic_errors.resize(topics.size(), RD_KAFKA_RESP_ERR_NO_ERROR);
  result.partitions.resize(topics.size());
  for (std::size_t t = 0; t < topics.size(); ++t) {
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t error = rd_kafka_metadata(client, 0, topics[t], &metadata, kafka_timeout(timeout));
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result.error = error;
      return result;
    }
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& topic = metadata->topics[i];
      result.topic_errors[t] = topic.err;
      for (int p = 0; p < topic.partition_cnt; ++p) {
        result.partitions[t].push_back(topic.partitions[p].id);
      }
    }
    rd_kafka_metadata_destroy(metadata);
  }
  return result;
}

std::set<PartitionId> owned_partitions(const KafkaTopicMetadata& metadata, std::size_t worker_index,
                                               std::size_t worker_count) {
  std::set<PartitionId> owned;
  for (std::size_t t = 0; t < metadata.partitions.size(); ++t) {
    if (metadata.topic_errors[t] != RD_KAFKA_RESP_ERR_NO_ERROR) {
      continue;
    }
    for (std::int32_t partition : metadata.partitions[t]) {
      if (static_cast<std::size_t>(partition) % worker_count == worker_index) {
        owned.insert(PartitionId{.topic = static_cast<std::uint32_t>(t), .partition = partition});
      }
    }
  }
  return owned;
}

}  // namespace roo::io
