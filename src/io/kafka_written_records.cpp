#include "kafka_written_records.hpp"

#include "roo/core/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>

namespace roo::io {
namespace {

/// Appends `message` to `batch` as a record.
void append_record(RecordBatch& batch, const rd_kafka_message_t& message) {
  const auto* value = static_cast<const char*>(message.payload);
  batch.values.insert(batch.values.end(), value, value + message.len);
  RecordBatch::Record record;
  record.value_end = static_cast<std::uint32_t>(batch.values.size());
  if (message.key != nullptr) {
    const auto* key = static_cast<const char*>(message.key);
    batch.keys.insert(batch.keys.end(), key, key + message.key_len);
    record.has_key = true;
  }
  record.key_end = static_cast<std::uint32_t>(batch.keys.size());
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* header_value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &header_value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      append_header(batch.headers, name, {static_cast<const char*>(header_value), header_value ? size : 0});
    }
  }
  record.headers_end = static_cast<std::uint32_t>(batch.headers.size());
  record.partition = message.partition;
  record.time_ms = rd_kafka_message_timestamp(&message, nullptr);
  batch.records.push_back(record);
}

/// The reading consumer: its own settings win over the sink's properties (a dict shared with a source may ask for
/// read_committed, which would hide the very records to read); those carry what it needs to connect (security).
KafkaHandle make_reader(KafkaClientIdentity& identity, const std::string& brokers, const std::string& topic,
                        const KafkaProperties& sink_properties) {
  // librdkafka 2.0.2 refuses assign() without a group; this one never joins or commits (explicit offsets).
  KafkaProperties own = {{"group.id", "roo.read-back." + topic},
                         {"enable.auto.commit", "false"},
                         {"isolation.level", "read_uncommitted"},
                         {"enable.partition.eof", "true"},
                         {"auto.offset.reset", "error"}};
  KafkaProperties properties;
  for (const auto& property : sink_properties) {
    if (std::none_of(own.begin(), own.end(), [&](const auto& mine) { return mine.first == property.first; })) {
      properties.push_back(property);
    }
  }
  return make_kafka_client(RD_KAFKA_CONSUMER, make_kafka_client_config(identity, brokers, own, properties),
                           identity.identity);
}

/// Errors that no retry until the deadline mends.
bool hopeless(rd_kafka_resp_err_t error) {
  return error == RD_KAFKA_RESP_ERR__FATAL || error == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
         error == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || error == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
}

/// One partition's read-back: the records found, the run the next one of ours falls in, the last offset taken.
struct PartitionReadBack {
  const std::vector<KafkaWrittenOffsets::Run>* runs = nullptr;
  RecordBatch records;
  std::size_t next_run = 0;
  std::int64_t found = 0;
  std::int64_t expected = 0;
  std::int64_t last_taken = -1;
  bool done = false;

  /// Takes `message` if it is one of ours (others' records between our runs, and anything seen twice, are not);
  /// returns true once the partition's last run ended. Throws core::Error (without context) when records are missing.
  bool take(const rd_kafka_message_t& message) {
    std::int64_t offset = message.offset;
    while (next_run < runs->size() && (*runs)[next_run].first + (*runs)[next_run].count <= offset) {
      ++next_run;
    }
    if (next_run < runs->size() && offset >= (*runs)[next_run].first && offset > last_taken) {
      append_record(records, message);
      ++found;
      last_taken = offset;
    }
    const auto& last = runs->back();
    if (offset < last.first + last.count - 1) {
      return false;
    }
    if (found != expected) {
      // A compacted topic's cleaner removes aborted records; so does retention, from the start of the log.
      throw core::Error(fmt::format("partition {} holds {} of its {}", message.partition, found, expected));
    }
    done = true;
    return true;
  }
};

}  // namespace

std::vector<RecordBatch> read_written_records(const std::string& owner, const std::string& brokers,
                                              const KafkaProperties& properties, const KafkaWrittenOffsets& offsets,
                                              std::chrono::milliseconds timeout) {
  std::vector<RecordBatch> out;
  if (offsets.records() == 0) {
    return out;
  }
  const std::string& topic = offsets.topic();
  KafkaClientIdentity identity{owner + " reading back its transaction's records"};
  KafkaHandle consumer = make_reader(identity, brokers, topic, properties);
  std::map<std::int32_t, PartitionReadBack> partitions;
  KafkaPartitions assignment(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.runs().size())));
  for (const auto& [partition, runs] : offsets.runs()) {
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), partition)->offset = runs.front().first;
    PartitionReadBack& read = partitions[partition];
    read.runs = &runs;
    for (const auto& run : runs) {
      read.expected += run.count;
    }
  }
  std::string last_error;
  auto fail = [&](const std::string& why) {
    rd_kafka_consumer_close(consumer.get());
    return core::Error(fmt::format("cannot read back the {} records of topic '{}' its transaction wrote: {}",
                                   offsets.records(), topic, why));
  };
  if (rd_kafka_resp_err_t assigned = rd_kafka_assign(consumer.get(), assignment.get());
      assigned != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw fail(kafka_error_text(assigned));
  }
  std::size_t partitions_left = partitions.size();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (partitions_left > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      throw fail(fmt::format("not all of them within {} ms{}", timeout.count(),
                             last_error.empty() ? "" : " (last: " + last_error + ")"));
    }
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> message(
        rd_kafka_consumer_poll(consumer.get(), kafka_timeout(left)), rd_kafka_message_destroy);
    if (!message) {
      continue;
    }
    auto at = partitions.find(message->partition);
    bool ours = at != partitions.end() && !at->second.done;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && ours) {
      throw fail(fmt::format("partition {} ends at offset {} with {} of its {}", message->partition, message->offset,
                             at->second.found, at->second.expected));
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // librdkafka's text says more than the code (an offset out of range names the offset).
      last_error = kafka_reason_text(rd_kafka_message_errstr(message.get()));
      if (ours || hopeless(message->err)) {
        throw fail(ours ? fmt::format("partition {}: {}", message->partition, last_error) : last_error);
      }
      continue;  // not tied to a partition of ours (a broker down): librdkafka retries until the deadline
    }
    if (!ours) {
      continue;
    }
    try {
      partitions_left -= at->second.take(*message) ? 1 : 0;
    } catch (const core::Error& missing) {
      throw fail(missing.what());
    }
  }
  rd_kafka_consumer_close(consumer.get());
  for (auto& [partition, read] : partitions) {
    out.push_back(std::move(read.records));
  }
  return out;
}

}  // namespace roo::io
