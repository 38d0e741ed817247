#include "kafka_source_core.hpp"

#include "io_log.hpp"
#include "kafka_committed_offsets.hpp"

#include "roo/core/error.hpp"

#include <utility>

// The Kafka source's core: its partitions, commits, warnings and stop (kafka_source_core.hpp).

namespace roo::io {

void KafkaSourceCore::start() {
  validate();
  client_ = make_kafka_client(RD_KAFKA_CONSUMER, make_config(), identity);
  queue_ = rd_kafka_queue_get_consumer(client_.get());
  lag_.attach(client_.get());
  for (const auto& topic : config_.topics) {
    topics_.push_back(rd_kafka_topic_new(client_.get(), topic.c_str(), nullptr));
  }
  KafkaTopicMetadata metadata = wait_for_topics();
  starting_ = false;
  batch_.news.started = true;
  if (std::string error = assign(owned_partitions(metadata, config_.worker_index, config_.worker_count),
                                 /*added_later=*/false);
      !error.empty()) {
    throw core::Error(error);
  }
  next_refresh_ = Clock::now() + config_.partition_refresh;
}

void KafkaSourceCore::run() {
  while (!stop_requested_.load(std::memory_order_acquire)) {
    rd_kafka_poll(client_.get(), 0);  // error and commit callbacks
    if (Clock::now() >= next_refresh_) {
      refresh_partitions();
    }
    if (waiting_for_room_) {
      if (paused_ && Clock::now() >= next_lag_query_) {
        ask_brokers_for_lag();
      }
      auto waited_from = Clock::now();
      bool room = wait_for_room(paused_ ? poll_interval : pause_after / 4, /*or_stop=*/true);
      stall_check_.did_not_poll(Clock::now() - waited_from);
      if (room && hand_over()) {
        resume();
      } else if (!paused_ && Clock::now() - full_since_ >= pause_after) {
        pause();
      }
      continue;
    }
    if (stall_check_.due(Clock::now())) {
      check_for_stalled_fetches();
    }
    read_messages();
  }
  finish();
}

void KafkaSourceCore::request_stop(std::function<void()> on_stopped) {
  {
    std::lock_guard lock(mutex_);
    if (!stopped_) {
      if (on_stopped) {
        on_stopped_.push_back(std::move(on_stopped));
      }
      on_stopped = nullptr;
      stop_requested_.store(true, std::memory_order_release);
      if (queue_ != nullptr) {
        rd_kafka_queue_yield(queue_);
      }
    }
  }
  wake_.notify_all();
  if (on_stopped) {
    on_stopped();  // already stopped
  }
}

void KafkaSourceCore::mark_stopped() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    callbacks.swap(on_stopped_);
  }
  for (auto& callback : callbacks) {
    callback();
  }
}

void KafkaSourceCore::abandon() {
  abandoned_.store(true, std::memory_order_release);
  wake_.notify_all();
}

void KafkaSourceCore::commit(const SourcePosition& position) {
  std::lock_guard lock(mutex_);
  if (position.empty()) {
    return;
  }
  KafkaPartitions offsets(rd_kafka_topic_partition_list_new(static_cast<int>(position.size())));
  for (const auto& [partition, offset] : position) {
    if (partition.topic < config_.topics.size()) {
      rd_kafka_topic_partition_list_add(offsets.get(), config_.topics[partition.topic].c_str(), partition.partition)
          ->offset = offset;
    }
  }
  if (!client_ || stopped_) {
    commit_after_stop(offsets.get());
    return;
  }
  rd_kafka_resp_err_t error = rd_kafka_commit(client_.get(), offsets.get(), 1);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    warn_throttled(error, fmt::format("{}: cannot commit offsets to group '{}': {}", identity, config_.group_id,
                                      kafka_error_text(error)));
  }
}

// The consumer is closed (the runtime commits the final positions after the drain): a short-lived client of the same
// group commits them and waits for the broker's answer.
void KafkaSourceCore::commit_after_stop(rd_kafka_topic_partition_list_t* offsets) {
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
  try {
    KafkaProperties own = {{"group.id", config_.group_id}, {"enable.auto.commit", "false"}};
    KafkaHandle committer = make_kafka_client(
        RD_KAFKA_CONSUMER, make_kafka_client_config(*this, config_.brokers, own, config_.properties), identity);
    error = rd_kafka_commit(committer.get(), offsets, 0);
    rd_kafka_consumer_close(committer.get());
  } catch (const core::Error& failure) {
    io_logger()->warn("{}: cannot commit offsets to group '{}': {}", identity, config_.group_id, failure.what());
    return;
  }
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    io_logger()->warn("{}: cannot commit offsets to group '{}': {}", identity, config_.group_id,
                      kafka_error_text(error));
  }
}

void KafkaSourceCore::on_committed(rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* offsets) {
  if (error == RD_KAFKA_RESP_ERR__NO_OFFSET) {
    return;
  }
  for (int i = 0; error == RD_KAFKA_RESP_ERR_NO_ERROR && offsets != nullptr && i < offsets->cnt; ++i) {
    error = offsets->elems[i].err;
  }
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    warn_throttled(error, fmt::format("{}: cannot commit offsets to group '{}': {}", identity, config_.group_id,
                                      kafka_error_text(error)));
    return;
  }
  io_logger()->debug("{}: committed offsets of {} partitions to group '{}'", identity,
                     offsets != nullptr ? offsets->cnt : 0, config_.group_id);
}

bool KafkaSourceCore::should_warn(rd_kafka_resp_err_t error) {
  auto now = Clock::now();
  auto [at, inserted] = last_warned_.try_emplace(static_cast<int>(error), now);
  if (!inserted && now - at->second < warning_interval) {
    return false;
  }
  at->second = now;
  return true;
}

void KafkaSourceCore::warn_throttled(rd_kafka_resp_err_t error, const std::string& line) {
  std::lock_guard lock(warn_mutex_);
  if (should_warn(error)) {
    io_logger()->warn("{}", line);
  }
}

void KafkaSourceCore::refresh_partitions() {
  next_refresh_ = Clock::now() + config_.partition_refresh;
  KafkaTopicMetadata metadata = read_topic_metadata(client_.get(), topics_, metadata_timeout);
  if (metadata.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return;  // the error callback reports unreachable brokers
  }
  for (std::size_t t = 0; t < config_.topics.size(); ++t) {
    if (metadata.topic_errors[t] != RD_KAFKA_RESP_ERR_NO_ERROR) {
      warn_throttled(metadata.topic_errors[t],
                     fmt::format("{}: cannot read topic '{}': {}", identity, config_.topics[t],
                                 kafka_error_text(metadata.topic_errors[t])));
    }
  }
  std::set<PartitionId> added;
  for (const auto& partition : owned_partitions(metadata, config_.worker_index, config_.worker_count)) {
    if (assigned_.count(partition) == 0) {
      added.insert(partition);
    }
  }
  if (!added.empty()) {
    if (std::string error = assign(added, /*added_later=*/true); !error.empty()) {
      warn_throttled(RD_KAFKA_RESP_ERR__STATE, fmt::format("{}: cannot {}", identity, error));
    }
  }
}

std::string KafkaSourceCore::assign(const std::set<PartitionId>& partitions, bool added_later) {
  KafkaPartitions list = partition_list(partitions);
  std::string names;
  bool stored = false;
  for (int i = 0; i < list->cnt; ++i) {
    auto& element = list->elems[i];
    auto topic = static_cast<std::uint32_t>(topic_index_of(element.topic));
    auto at = seek_.find(PartitionId{.topic = topic, .partition = element.partition});
    element.offset = at != seek_.end() ? at->second : RD_KAFKA_OFFSET_STORED;
    stored = stored || element.offset == RD_KAFKA_OFFSET_STORED;
    names += fmt::format("{}{}/{}", names.empty() ? "" : ", ", element.topic, element.partition);
  }
  if (stored) {
    if (std::string error = resolve_stored_offsets(list.get(), added_later); !error.empty()) {
      return "read partitions " + names + " for source '" + config_.name + "': " + error;
    }
  }
  if (KafkaError error{rd_kafka_incremental_assign(client_.get(), list.get())}) {
    return "read partitions " + names + " for source '" + config_.name +
           "': " + kafka_reason_text(rd_kafka_error_string(error.get()));
  }
  assigned_.insert(partitions.begin(), partitions.end());
  for (int i = 0; i < list->cnt; ++i) {
    PartitionId partition{.topic = static_cast<std::uint32_t>(topic_index_of(list->elems[i].topic)),
                          .partition = list->elems[i].partition};
    lag_.assigned(partition, list->elems[i].offset);
    assigned_at_[partition] = list->elems[i].offset;
    stall_check_.forget(partition);
    if (list->elems[i].offset >= 0) {
      std::lock_guard lock(starts_mutex_);
      starts_[partition] = list->elems[i].offset;
      batch_.news.starts.emplace_back(core::SourceNews::Input{partition.topic, partition.partition},
                                      list->elems[i].offset);
    }
  }
  for (const auto& [topic, partition] : partitions) {
    batch_.news.assigned.emplace_back(topic, partition);
  }
  if (paused_) {
    rd_kafka_pause_partitions(client_.get(), list.get());
  }
  io_logger()->info("{}: reading {} partitions as worker {} of {}{}{}", identity, partitions.size(),
                    config_.worker_index, config_.worker_count, names.empty() ? "" : ": ", names);
  return {};
}

std::string KafkaSourceCore::resolve_stored_offsets(rd_kafka_topic_partition_list_t* list, bool added_later) {
  // librdkafka could resolve RD_KAFKA_OFFSET_STORED itself, but 2.0.2 loses a partition whose committed-offset
  // request fails as a whole (NOT_COORDINATOR, as right after a broker restart): it is never fetched and never
  // retried, with no error to the application (librdkafka issue #5586; seen in CI as a source that read nothing
  // more). So the source asks for the committed offsets itself, retrying.
  KafkaPartitions committed(rd_kafka_topic_partition_list_copy(list));
  // At start the brokers get broker_wait; a partition added later waits for the next refresh instead.
  auto deadline = Clock::now() + (added_later ? std::chrono::milliseconds(metadata_timeout) : config_.broker_wait);
  rd_kafka_resp_err_t error = read_committed_offsets(
      client_.get(), committed.get(), deadline, [this] { return stop_requested_.load(std::memory_order_acquire); });
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return "cannot read the committed offsets of group '" + config_.group_id + "': " + kafka_error_text(error);
  }
  // A partition created while the source runs holds only messages written since: with `latest` they would be
  // skipped until the next refresh found it. So it starts at the group's committed offset, else at its beginning.
  bool from_beginning = added_later || config_.start == KafkaSourceConfig::Start::earliest;
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].offset == RD_KAFKA_OFFSET_STORED) {
      std::int64_t offset = committed->elems[i].offset;
      list->elems[i].offset = offset >= 0 ? offset : edge_offset(list->elems[i], !from_beginning);
    }
  }
  return {};
}

std::int64_t KafkaSourceCore::edge_offset(const rd_kafka_topic_partition_t& element, bool end) {
  std::int64_t low = RD_KAFKA_OFFSET_INVALID;
  std::int64_t high = RD_KAFKA_OFFSET_INVALID;
  std::int64_t symbolic = end ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
  if (rd_kafka_query_watermark_offsets(client_.get(), element.topic, element.partition, &low, &high,
                                       kafka_timeout(metadata_timeout)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return symbolic;
  }
  std::int64_t edge = end ? high : low;
  return edge >= 0 ? edge : symbolic;
}

std::size_t KafkaSourceCore::topic_index_of(const char* name) const {
  for (std::size_t t = 0; t < config_.topics.size(); ++t) {
    if (config_.topics[t] == name) {
      return t;
    }
  }
  return 0;
}

KafkaPartitions KafkaSourceCore::partition_list(const std::set<PartitionId>& partitions) const {
  KafkaPartitions list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& [topic, partition] : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), config_.topics[topic].c_str(), partition);
  }
  return list;
}

void KafkaSourceCore::finish() {
  lag_.detach();                             // a stopping source reports no lag; its client is closed below
  while (!batch_.empty() && !hand_over()) {  // a batch holding only news is not worth waiting for
    if (abandoned_.load(std::memory_order_acquire)) {
      io_logger()->warn("{}: stopped with a full mailbox; discarding {} messages", identity, batch_.size());
      break;
    }
    (void)wait_for_room(poll_interval, /*or_stop=*/false);
  }
  pool_.release(std::move(batch_));
  rd_kafka_consumer_close(client_.get());
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    callbacks.swap(on_stopped_);
  }
  close_client();
  io_logger()->info("{}: stopped ({} messages over max_size skipped)", identity, skipped_);
  for (auto& callback : callbacks) {
    callback();
  }
}

void KafkaSourceCore::close_client() {
  lag_.detach();
  std::lock_guard lock(mutex_);
  if (queue_ != nullptr) {
    rd_kafka_queue_destroy(queue_);
    queue_ = nullptr;
  }
  for (rd_kafka_topic_t* topic : topics_) {
    rd_kafka_topic_destroy(topic);
  }
  topics_.clear();
  client_.reset();
}

}  // namespace roo::io
