#include "io_log.hpp"
#include "kafka_source_core.hpp"

// A Kafka source's partitions that librdkafka stopped fetching, found and assigned again (KafkaFetchStallCheck;
// kafka_source_core.hpp).

namespace roo::io {

void KafkaSourceCore::check_for_stalled_fetches() {
  ask_brokers_for_lag();  // the high watermarks: a partition librdkafka does not fetch has a stale cached one
  KafkaPartitions list = partition_list(assigned_);
  (void)rd_kafka_position(client_.get(), list.get());  // fills each element's offset or err
  std::map<PartitionId, std::int64_t> positions;
  std::map<PartitionId, KafkaFetchStallCheck::Reading> readings;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& element = list->elems[i];
    PartitionId partition{.topic = static_cast<std::uint32_t>(topic_index_of(element.topic)),
                          .partition = element.partition};
    std::int64_t position = element.err == RD_KAFKA_RESP_ERR_NO_ERROR ? element.offset : -1;
    positions[partition] = position;
    readings[partition].position = position;
    readings[partition].at_end = position >= 0 && lag_.end_reached(partition) >= position;
  }
  for (const auto& lag : lag_.read()) {
    PartitionId partition{.topic = static_cast<std::uint32_t>(topic_index_of(lag.topic.c_str())),
                          .partition = lag.partition};
    if (auto at = readings.find(partition); at != readings.end()) {
      at->second.lag = lag.lag;
    }
  }
  std::vector<PartitionId> stalled = stall_check_.check(Clock::now(), readings);
  if (!stalled.empty()) {
    assign_again(stalled, positions);
  }
}

void KafkaSourceCore::assign_again(const std::vector<PartitionId>& stalled,
                                   const std::map<PartitionId, std::int64_t>& positions) {
  KafkaPartitions list = partition_list({stalled.begin(), stalled.end()});
  if (KafkaError error{rd_kafka_incremental_unassign(client_.get(), list.get())}) {
    // Not in the assignment (an earlier assign_again failed half-way): assigning them is all there is to do.
    io_logger()->debug("{}: unassigning {} stalled partitions: {}", identity, stalled.size(),
                       kafka_reason_text(rd_kafka_error_string(error.get())));
  }
  for (int i = 0; i < list->cnt; ++i) {
    auto& element = list->elems[i];
    PartitionId partition{.topic = static_cast<std::uint32_t>(topic_index_of(element.topic)),
                          .partition = element.partition};
    std::int64_t position = positions.at(partition);
    // Nothing read yet: where it was first assigned.
    element.offset = position >= 0 ? position : assigned_at_.at(partition);
    io_logger()->warn("{}: {}/{} read nothing for {} s while the brokers hold more; assigning it again at {}", identity,
                      element.topic, element.partition, stall_check_interval.count(),
                      element.offset >= 0                           ? "offset " + std::to_string(element.offset)
                      : element.offset == RD_KAFKA_OFFSET_BEGINNING ? std::string("its beginning")
                                                                    : std::string("its end"));
    stall_check_.forget(partition);
  }
  if (!paused_) {
    // A pause librdkafka kept (a resume it dropped as outdated) would survive the assignment: undone too.
    (void)rd_kafka_resume_partitions(client_.get(), list.get());
  }
  if (KafkaError error{rd_kafka_incremental_assign(client_.get(), list.get())}) {
    // Out of the assignment now, yet still in assigned_: the next check finds them stalled again and retries.
    io_logger()->error("{}: cannot assign {} stalled partitions again: {}; retrying in {} s", identity, stalled.size(),
                       kafka_reason_text(rd_kafka_error_string(error.get())), stall_check_interval.count());
  }
}

}  // namespace roo::io
