#include "kafka_source_core.hpp"

#include "io_log.hpp"

#include <algorithm>
#include <utility>

// A Kafka source's poll thread reading messages into batches, and its backpressure (kafka_source_core.hpp).

namespace roo::io {
namespace {
const char empty_payload[1] = {0};  // the data of an empty message (librdkafka gives none)
}  // namespace

void KafkaSourceCore::read_messages() {
  rd_kafka_message_t* message = rd_kafka_consumer_poll(client_.get(), kafka_timeout(poll_interval));
  while (message != nullptr) {
    take(*message);
    rd_kafka_message_destroy(message);
    if (batch_.payload_bytes() >= config_.batch_bytes || batch_.size() >= max_frames_per_batch ||
        stop_requested_.load(std::memory_order_relaxed)) {
      break;
    }
    message = rd_kafka_consumer_poll(client_.get(), 0);
  }
  for (const PartitionId& partition :
       quiet_.newly_quiet(Clock::now(), [this](const PartitionId& of) { return lag_.known_end(of); })) {
    batch_.news.quiet.emplace_back(partition.topic, partition.partition);
  }
  if (!batch_.empty() || !batch_.news.empty()) {
    (void)hand_over();
  }
}

void KafkaSourceCore::take(const rd_kafka_message_t& message) {
  if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF && message.rkt != nullptr) {
      std::uint32_t topic = topic_of(message.rkt);
      quiet_.reached_end(PartitionId{.topic = topic, .partition = message.partition}, message.offset, Clock::now());
      lag_.reached_end(PartitionId{.topic = topic, .partition = message.partition}, message.offset);
      return;
    }
    const char* topic = message.rkt != nullptr ? rd_kafka_topic_name(message.rkt) : "?";
    warn_throttled(message.err, fmt::format("{}: {}/{}: {}", identity, topic, message.partition,
                                            kafka_reason_text(rd_kafka_message_errstr(&message))));
    return;
  }
  std::uint32_t topic = topic_of(message.rkt);
  quiet_.message(PartitionId{.topic = topic, .partition = message.partition});
  if (message.len > config_.max_size) {
    ++skipped_;
    io_logger()->warn("{}: skipping the message at {}/{} offset {}: {} bytes exceed max_size {} ({} so far)",
                      identity, config_.topics[topic], message.partition, message.offset, message.len,
                      config_.max_size, skipped_);
    return;
  }
  batch_.append(message.payload != nullptr ? static_cast<const char*>(message.payload) : empty_payload,
                message.len);
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  std::int64_t time = rd_kafka_message_timestamp(&message, &type);
  if (message.key != nullptr) {
    const auto* key = static_cast<const char*>(message.key);
    batch_.keys.insert(batch_.keys.end(), key, key + message.key_len);
  }
  batch_.meta.push_back(core::FrameBatch::Meta{.topic = topic,
                                               .partition = message.partition,
                                               .offset = message.offset,
                                               .time_ms = type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : time,
                                               .key_end = static_cast<std::uint32_t>(batch_.keys.size()),
                                               .has_key = message.key != nullptr});
}

std::uint32_t KafkaSourceCore::topic_of(rd_kafka_topic_t* handle) {
  if (config_.topics.size() == 1) {
    return 0;
  }
  if (handle != last_topic_handle_) {
    last_topic_handle_ = handle;
    last_topic_ = static_cast<std::uint32_t>(topic_index_of(rd_kafka_topic_name(handle)));
  }
  return last_topic_;
}

bool KafkaSourceCore::hand_over() {
  batch_.source = config_.source_index;
  batch_.generation = config_.generation;
  std::weak_ptr<KafkaSourceCore> weak = weak_from_this();
  batch_.received_ns = core::steady_clock_ns();
  core::PushResult pushed = mailbox_.try_push(batch_, [weak] {
    if (auto self = weak.lock()) {
      self->on_room();
    }
  });
  if (pushed == core::PushResult::accepted) {
    batch_ = pool_.acquire();
    return true;
  }
  if (pushed == core::PushResult::closed) {
    io_logger()->warn("{}: the executor's mailbox is closed; discarding {} messages", identity, batch_.size());
    batch_.clear();
    waiting_for_room_ = false;
    return true;
  }
  if (!waiting_for_room_) {
    waiting_for_room_ = true;
    full_since_ = Clock::now();
  }
  return false;
}

void KafkaSourceCore::pause() {
  paused_ = true;
  quiet_.paused();
  KafkaPartitions list = partition_list(assigned_);
  rd_kafka_pause_partitions(client_.get(), list.get());
  io_logger()->debug("{}: the executor's mailbox is full; pausing {} partitions", identity, assigned_.size());
}

void KafkaSourceCore::ask_brokers_for_lag() {
  auto now = Clock::now();
  next_lag_query_ = now + lag_query_interval;
  auto deadline = now + lag_query_budget;
  auto left = [&] {
    return kafka_timeout(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  };
  std::map<PartitionId, std::int64_t> beginnings;
  for (const auto& partition : assigned_) {
    std::int64_t low = RD_KAFKA_OFFSET_INVALID;
    std::int64_t high = RD_KAFKA_OFFSET_INVALID;
    if (left() <= 0) {
      return;
    }
    if (rd_kafka_query_watermark_offsets(client_.get(), config_.topics[partition.topic].c_str(), partition.partition,
                                         &low, &high, left()) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      lag_.learned_end(partition, high);
      beginnings[partition] = low;
    }
  }
  std::set<PartitionId> unknown = lag_.without_start();
  if (unknown.empty() || left() <= 0) {
    return;
  }
  KafkaPartitions committed = partition_list(unknown);
  if (rd_kafka_committed(client_.get(), committed.get(), left()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return;
  }
  for (int i = 0; i < committed->cnt; ++i) {
    const auto& element = committed->elems[i];
    PartitionId partition{.topic = static_cast<std::uint32_t>(topic_index_of(element.topic)),
                          .partition = element.partition};
    if (element.err == RD_KAFKA_RESP_ERR_NO_ERROR && element.offset >= 0) {
      lag_.started_at(partition, element.offset);
    } else if (config_.start == KafkaSourceConfig::Start::earliest && beginnings.count(partition) != 0) {
      lag_.started_at(partition, beginnings[partition]);
    }
  }
}

void KafkaSourceCore::resume() {
  waiting_for_room_ = false;
  if (!paused_) {
    return;
  }
  paused_ = false;
  KafkaPartitions list = partition_list(assigned_);
  rd_kafka_resume_partitions(client_.get(), list.get());
  io_logger()->debug("{}: resuming {} partitions", identity, assigned_.size());
}

void KafkaSourceCore::on_room() {
  {
    std::lock_guard lock(wake_mutex_);
    room_ = true;
  }
  wake_.notify_all();
}

bool KafkaSourceCore::wait_for_room(std::chrono::milliseconds timeout, bool or_stop) {
  std::unique_lock lock(wake_mutex_);
  wake_.wait_for(lock, timeout, [&] {
    return room_ || abandoned_.load(std::memory_order_acquire) ||
           (or_stop && stop_requested_.load(std::memory_order_acquire));
  });
  bool room = room_;
  room_ = false;
  return room;
}

}  // namespace roo::io
