#include "kafka_written_records.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>

namespace roo::io {
namespace {

/// Appends message `message` to `batch` as a record (RecordBatch's header encoding for its headers).
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
      std::string_view name_bytes(name);
      std::size_t at = batch.headers.size();
      batch.headers.resize(at + 2 + name_bytes.size() + 4 + size);
      core::store_u16_be(batch.headers.data() + at, static_cast<std::uint16_t>(name_bytes.size()));
      std::copy(name_bytes.begin(), name_bytes.end(), batch.headers.data() + at + 2);
      core::store_u32_be(batch.headers.data() + at + 2 + name_bytes.size(), static_cast<std::uint32_t>(size));
      if (size > 0) {
        const auto* bytes = static_cast<const char*>(header_value);
        std::copy(bytes, bytes + size, batch.headers.data() + at + 2 + name_bytes.size() + 4);
      }
    }
  }
  record.headers_end = static_cast<std::uint32_t>(batch.headers.size());
  record.partition = message.partition;
  record.time_ms = rd_kafka_message_timestamp(&message, nullptr);
  batch.records.push_back(record);
}

/// Whether `offset` is one of `runs` (sorted, as KafkaWrittenOffsets keeps them), moving `next` past the runs
/// before it.
bool wanted(const std::vector<KafkaWrittenOffsets::Run>& runs, std::size_t& next, std::int64_t offset) {
  while (next < runs.size() && runs[next].first + runs[next].count <= offset) {
    ++next;
  }
  return next < runs.size() && offset >= runs[next].first;
}

}  // namespace

std::vector<RecordBatch> read_written_records(const std::string& owner, const std::string& brokers,
                                              const KafkaProperties& properties, const std::string& topic,
                                              const KafkaWrittenOffsets& offsets, std::chrono::milliseconds timeout) {
  std::vector<RecordBatch> out;
  if (offsets.records() == 0) {
    return out;
  }
  KafkaClientIdentity identity{owner + " reading back its transaction's records"};
  // librdkafka 2.0.2 refuses assign() without a group; this one never joins or commits (explicit offsets).
  KafkaProperties own = {{"group.id", "roo.read-back." + topic},
                         {"enable.auto.commit", "false"},
                         {"isolation.level", "read_uncommitted"},
                         {"enable.partition.eof", "true"},
                         {"auto.offset.reset", "error"}};
  KafkaHandle consumer = make_kafka_client(
      RD_KAFKA_CONSUMER, make_kafka_client_config(identity, brokers, own, properties), identity.identity);
  KafkaPartitions assignment(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.runs().size())));
  // Per partition: the records read back, the next run to look for, and how many records its runs hold.
  struct Progress {
    RecordBatch records;
    std::size_t next_run = 0;
    std::int64_t found = 0;
    std::int64_t expected = 0;
    bool done = false;
  };
  std::map<std::int32_t, Progress> progress;
  for (const auto& [partition, runs] : offsets.runs()) {
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), partition)->offset = runs.front().first;
    for (const auto& run : runs) {
      progress[partition].expected += run.count;
    }
  }
  auto fail = [&](const std::string& why) {
    rd_kafka_consumer_close(consumer.get());
    return core::Error(fmt::format("cannot read back the {} records of topic '{}' its transaction wrote: {}",
                                   offsets.records(), topic, why));
  };
  if (rd_kafka_resp_err_t assigned = rd_kafka_assign(consumer.get(), assignment.get());
      assigned != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw fail(kafka_error_text(assigned));
  }
  std::size_t partitions_left = progress.size();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (partitions_left > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      throw fail(fmt::format("no answer within {} ms", timeout.count()));
    }
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), kafka_timeout(std::min(left, timeout)));
    if (message == nullptr) {
      continue;
    }
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> owned(message, rd_kafka_message_destroy);
    auto at = progress.find(message->partition);
    if (at == progress.end() || at->second.done) {
      continue;
    }
    Progress& partition = at->second;
    const auto& runs = offsets.runs().at(message->partition);
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      throw fail(fmt::format("partition {} ends at offset {} with {} of its records found", message->partition,
                             message->offset, partition.found));
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw fail(fmt::format("partition {}: {}", message->partition, kafka_error_text(message->err)));
    }
    bool ours = wanted(runs, partition.next_run, message->offset);
    if (ours) {
      append_record(partition.records, *message);
      ++partition.found;
    }
    const auto& last = runs.back();
    if (message->offset >= last.first + last.count - 1) {
      if (partition.found != partition.expected) {
        // A compacted topic's cleaner removes aborted records; so does retention, from the start of the log.
        throw fail(
            fmt::format("partition {} holds {} of its {}", message->partition, partition.found, partition.expected));
      }
      partition.done = true;
      --partitions_left;
    }
  }
  rd_kafka_consumer_close(consumer.get());
  for (auto& [partition, read] : progress) {
    out.push_back(std::move(read.records));
  }
  return out;
}

}  // namespace roo::io
