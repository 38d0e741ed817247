#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <functional>

namespace roo::io {

/// Fills each element of `partitions` with its group's committed offset (negative: none) through `client`'s group,
/// asking again until every partition has an answer or `deadline` passes (or `stop()` says so). Right after a broker
/// restart the group coordinator may refuse (not coordinator, still loading): librdkafka does not retry those for
/// rd_kafka_committed. Returns the last error, or NO_ERROR. Blocks; call it from a thread that may wait.
[[nodiscard]] rd_kafka_resp_err_t read_committed_offsets(rd_kafka_t* client,
                                                         rd_kafka_topic_partition_list_t* partitions,
                                                         std::chrono::steady_clock::time_point deadline,
                                                         const std::function<bool()>& stop = {});

}  // namespace roo::io
