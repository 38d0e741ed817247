#pragma once

#include "kafka_client_config.hpp"
#include "kafka_written_offsets.hpp"

#include "roo/io/record_batch.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace roo::io {

/// Reads the records at `offsets` (of offsets.topic()) back, with a short-lived consumer that reads uncommitted
/// records (those of a transaction a crash left open, which the restart's fencing aborted, stay in the log): per
/// partition in offset order (one batch per partition), with their keys, headers, partitions and times as written;
/// other producers' records between them are skipped. `owner` names the sink in the consumer's log lines;
/// `properties` are the sink's (security settings), under the reader's own isolation and offset settings. Throws
/// core::Error saying which records could not be read: the log no longer holds them (retention, or a compacted
/// topic's cleaning of aborted records), the brokers or the topic cannot be reached, or they did not all arrive
/// within `timeout`.
[[nodiscard]] std::vector<RecordBatch> read_written_records(const std::string& owner, const std::string& brokers,
                                                            const KafkaProperties& properties,
                                                            const KafkaWrittenOffsets& offsets,
                                                            std::chrono::milliseconds timeout);

}  // namespace roo::io
