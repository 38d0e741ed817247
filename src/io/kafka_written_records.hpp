#pragma once

#include "kafka_client_config.hpp"
#include "kafka_written_offsets.hpp"

#include "roo/io/record_batch.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace roo::io {

/// Reads the records at `offsets` of `topic` back, with a short-lived consumer that reads uncommitted records (those
/// of a transaction a crash left open, which the restart's fencing aborted, stay in the log): per partition in offset
/// order (one batch per partition), with their keys, headers, partitions and times as written. `owner` names the sink
/// in the consumer's log lines. Throws core::Error saying which records could not be read: the log no longer holds them
/// (retention, or a compacted topic's cleaning of aborted records), the topic is gone, or they did not arrive within
/// `timeout`.
[[nodiscard]] std::vector<RecordBatch> read_written_records(const std::string& owner, const std::string& brokers,
                                                            const KafkaProperties& properties, const std::string& topic,
                                                            const KafkaWrittenOffsets& offsets,
                                                            std::chrono::milliseconds timeout);

}  // namespace roo::io
