#pragma once

#include "roo/io/source.hpp"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace roo::io {

/// What a metadata request said about a source's topics.
struct KafkaTopicMetadata {
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;  ///< of the request itself (no broker answered, …)
  std::vector<rd_kafka_resp_err_t> topic_errors;           ///< per topic (UNKNOWN_TOPIC_OR_PART, authorization, …)
  std::vector<std::vector<std::int32_t>> partitions;      ///< per topic: its partition ids
};

/// Asks the brokers about each of `topics` (one metadata request per topic, so no other topic is listed or created).
/// Blocks up to `timeout` per request; call it from the source's own thread.
[[nodiscard]] KafkaTopicMetadata read_topic_metadata(rd_kafka_t* client, const std::vector<rd_kafka_topic_t*>& topics,
                                                     std::chrono::milliseconds timeout);

/// Roo's own assignment: partition p of every topic belongs to worker p % worker_count. The partitions of
/// `metadata` that worker `worker_index` reads.
[[nodiscard]] std::set<PartitionId> owned_partitions(const KafkaTopicMetadata& metadata,
                                                             std::size_t worker_index, std::size_t worker_count);

}  // namespace roo::io
