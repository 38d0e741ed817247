#pragma once

#include "roo/io/record_batch.hpp"

#include <librdkafka/rdkafka.h>

#include <cstddef>
#include <string>

namespace roo::io {

/// Hands record `index` of `batch` to librdkafka (copied: the batch may go away): its value, key (when has_key; an
/// empty key stays empty, not null), partition (any_partition: the partitioner's choice), headers (decoded from
/// RecordBatch's encoding) and time (no_time: librdkafka stamps it). `opaque` comes back in the delivery report.
/// Returns librdkafka's answer (RD_KAFKA_RESP_ERR__QUEUE_FULL: try again after polling). Thread-safe.
[[nodiscard]] rd_kafka_resp_err_t produce_record(rd_kafka_t* producer, rd_kafka_topic_t* topic,
                                                 const RecordBatch& batch, std::size_t index, void* opaque);

/// Bytes of record `index` that count against max_message_size: value, key and encoded headers.
[[nodiscard]] std::size_t record_size(const RecordBatch& batch, std::size_t index);

/// The number of records in `batch`: records.size(), or 1 for a batch of bare values (the values as one message).
[[nodiscard]] std::size_t record_count(const RecordBatch& batch);

}  // namespace roo::io
