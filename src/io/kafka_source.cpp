#include "roo/io/kafka_source.hpp"

#include "io_log.hpp"
#include "kafka_client_config.hpp"
#include "kafka_partition_assignment.hpp"

#include "roo/core/error.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace roo::io {
namespace {

using Clock = std::chrono::steady_clock;
using Mailbox = core::BoundedMailbox<core::FrameBatch>;

constexpr std::chrono::milliseconds poll_interval{100};
constexpr std::chrono::milliseconds metadata_timeout{2000};  // one metadata request
constexpr std::chrono::milliseconds start_attempt{500};      // one metadata request while start() waits
// The mailbox must stay full this long before the partitions are paused: librdkafka refetches a resumed partition
// only after its pending fetch returns (up to fetch.wait.max.ms, 500 ms by default), so pausing at every brief full
// mailbox would stall the source; meanwhile what librdkafka prefetches is bounded by queued.max.messages.kbytes.
constexpr std::chrono::milliseconds pause_after{100};
constexpr std::chrono::seconds warning_interval{30};         // the same error is logged at most this often
constexpr std::size_t max_frames_per_batch = 65536;
const char empty_payload[1] = {0};

/// A Kafka source's consumer and the batch it fills, driven by one poll thread (run()). start() runs on the caller's
/// thread before that thread exists; commit() and request_stop() may be called from any thread. shared_ptr because
/// the mailbox's room callbacks (weak) and the poll thread outlive the Source handle's calls.
///
/// Reading: partitions are assigned by Roo (rd_kafka_incremental_assign, no group rebalancing), at the seek()
/// offsets, else the group's committed offsets, else earliest/latest. Messages are copied into one FrameBatch with
/// their Meta; the batch is handed over when it holds batch_bytes or the consumer queue is empty. When the mailbox
/// refuses it, every assigned partition is paused (librdkafka then drops what it prefetched and fetches again from
/// the last message handed to us on resume), and resumed by the room callback.
class KafkaSourceCore : public KafkaClientIdentity, public std::enable_shared_from_this<KafkaSourceCore> {
 public:
  KafkaSourceCore(KafkaSourceConfig config, Mailbox& mailbox, core::BatchPool& pool)
      : config_(std::move(config)), mailbox_(mailbox), pool_(pool), batch_(pool.acquire()) {
    identity = "kafka_source '" + config_.name + "'";
  }

  ~KafkaSourceCore() { close_client(); }

  KafkaSourceCore(const KafkaSourceCore&) = delete;
  KafkaSourceCore& operator=(const KafkaSourceCore&) = delete;

  void seek(const SourcePosition& position) { seek_ = position; }

  void start() {
    validate();
    client_ = make_kafka_client(RD_KAFKA_CONSUMER, make_config(), identity);
    queue_ = rd_kafka_queue_get_consumer(client_.get());
    for (const auto& topic : config_.topics) {
      topics_.push_back(rd_kafka_topic_new(client_.get(), topic.c_str(), nullptr));
    }
    KafkaTopicMetadata metadata = wait_for_topics();
    starting_ = false;
    assign(owned_partitions(metadata, config_.worker_index, config_.worker_count));
    next_refresh_ = Clock::now() + config_.partition_refresh;
  }

  /// The poll thread's body: reads until request_stop(), hands over what it read, closes the consumer.
  void run() {
    while (!stop_requested_.load(std::memory_order_acquire)) {
      rd_kafka_poll(client_.get(), 0);  // error and commit callbacks
      if (Clock::now() >= next_refresh_) {
        refresh_partitions();
      }
      if (waiting_for_room_) {
        if (wait_for_room(paused_ ? poll_interval : pause_after / 4, /*or_stop=*/true) && hand_over()) {
          resume();
        } else if (!paused_ && Clock::now() - full_since_ >= pause_after) {
          pause();
        }
        continue;
      }
      read_messages();
    }
    finish();
  }

  void request_stop(std::function<void()> on_stopped) {
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

  /// The Source was never started: nothing to hand over.
  void mark_stopped() {
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

  /// The Source handle is going away: a stop stuck on a full mailbox gives up its last batch.
  void abandon() {
    abandoned_.store(true, std::memory_order_release);
    wake_.notify_all();
  }

  void commit(const SourcePosition& position) {
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

 private:
  /// The consumer is closed (the runtime commits the final positions after the drain): a short-lived client of the
  /// same group commits them, waiting for the broker's answer. Called with mutex_ held.
  void commit_after_stop(rd_kafka_topic_partition_list_t* offsets) {
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

  void validate() const {
    auto refuse = [&](const std::string& why) {
      throw core::UsageError("read Kafka for source '" + config_.name + "': " + why);
    };
    if (config_.topics.empty()) {
      refuse("no topic given");
    }
    if (config_.group_id.empty()) {
      refuse("no consumer group id given");
    }
    if (config_.worker_count == 0 || config_.worker_index >= config_.worker_count) {
      refuse("worker " + std::to_string(config_.worker_index) + " of " + std::to_string(config_.worker_count));
    }
  }

  KafkaConf make_config() {
    KafkaProperties own = {
        {"group.id", config_.group_id},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
        {"auto.offset.reset", config_.start == KafkaSourceConfig::Start::earliest ? "earliest" : "latest"},
        {"socket.nagle.disable", "true"},
    };
    KafkaConf conf = make_kafka_client_config(*this, config_.brokers, own, config_.properties);
    rd_kafka_conf_set_error_cb(conf.get(), [](rd_kafka_t*, int error, const char* reason, void* opaque) {
      static_cast<KafkaSourceCore*>(static_cast<KafkaClientIdentity*>(opaque))
          ->on_client_error(static_cast<rd_kafka_resp_err_t>(error), reason);
    });
    rd_kafka_conf_set_offset_commit_cb(
        conf.get(), [](rd_kafka_t*, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* offsets, void* opaque) {
          static_cast<KafkaSourceCore*>(static_cast<KafkaClientIdentity*>(opaque))->on_committed(error, offsets);
        });
    return conf;
  }

  /// Asks for the topics' partitions until every topic is known, for up to broker_wait; throws when time is up.
  KafkaTopicMetadata wait_for_topics() {
    auto deadline = Clock::now() + config_.broker_wait;
    bool warned_brokers = false;
    std::vector<bool> warned_topic(config_.topics.size(), false);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      KafkaTopicMetadata metadata =
          read_topic_metadata(client_.get(), topics_, std::clamp(left, std::chrono::milliseconds(100), start_attempt));
      rd_kafka_poll(client_.get(), 0);  // collects the error callbacks' cause
      if (auth_error_) {
        throw core::Error("authenticate to Kafka brokers '" + config_.brokers + "' for source '" + config_.name +
                          "': " + last_error_);
      }
      std::size_t missing = config_.topics.size();
      if (metadata.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (!warned_brokers) {
          warned_brokers = true;
          io_logger()->warn("{}: cannot reach Kafka brokers '{}' ({}); retrying for up to {} ms", identity,
                            config_.brokers, broker_cause(metadata.error), config_.broker_wait.count());
        }
      } else {
        missing = 0;
        for (std::size_t t = 0; t < config_.topics.size(); ++t) {
          if (metadata.topic_errors[t] != RD_KAFKA_RESP_ERR_NO_ERROR) {
            ++missing;
            if (!warned_topic[t]) {
              warned_topic[t] = true;
              io_logger()->warn("{}: cannot read topic '{}' ({}); retrying for up to {} ms", identity,
                                config_.topics[t], kafka_error_text(metadata.topic_errors[t]),
                                config_.broker_wait.count());
            }
          }
        }
      }
      if (missing == 0) {
        return metadata;
      }
      if (Clock::now() >= deadline) {
        if (metadata.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
          throw core::Error("reach Kafka brokers '" + config_.brokers + "' for source '" + config_.name + "' within " +
                            std::to_string(config_.broker_wait.count()) + " ms: " + broker_cause(metadata.error));
        }
        for (std::size_t t = 0; t < config_.topics.size(); ++t) {
          if (metadata.topic_errors[t] != RD_KAFKA_RESP_ERR_NO_ERROR) {
            throw core::Error("read topic '" + config_.topics[t] + "' for source '" + config_.name + "': " +
                              kafka_error_text(metadata.topic_errors[t]) + " (waited " +
                              std::to_string(config_.broker_wait.count()) + " ms)");
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  /// Why no broker answered: the client's last connection error if it reported one.
  [[nodiscard]] std::string broker_cause(rd_kafka_resp_err_t error) const {
    return last_error_.empty() ? kafka_error_text(error) : last_error_;
  }

  void on_client_error(rd_kafka_resp_err_t error, const char* reason) {
    if (error == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !last_error_.empty()) {
      return;  // the connection error before it said why
    }
    last_error_ = kafka_reason_text(reason);
    if (error == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
      auth_error_ = true;
      std::lock_guard lock(warn_mutex_);
      if (!starting_ && should_warn(error)) {
        io_logger()->error("{}: cannot authenticate to Kafka brokers '{}': {}", identity, config_.brokers,
                           last_error_);
      }
      return;
    }
    if (!starting_) {
      warn_throttled(error, fmt::format("{}: {}", identity, last_error_));
    }
  }

  void on_committed(rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* offsets) {
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

  [[nodiscard]] bool should_warn(rd_kafka_resp_err_t error) {
    auto now = Clock::now();
    auto [at, inserted] = last_warned_.try_emplace(static_cast<int>(error), now);
    if (!inserted && now - at->second < warning_interval) {
      return false;
    }
    at->second = now;
    return true;
  }

  void warn_throttled(rd_kafka_resp_err_t error, const std::string& line) {
    std::lock_guard lock(warn_mutex_);
    if (should_warn(error)) {
      io_logger()->warn("{}", line);
    }
  }

  void refresh_partitions() {
    next_refresh_ = Clock::now() + config_.partition_refresh;
    KafkaTopicMetadata metadata = read_topic_metadata(client_.get(), topics_, metadata_timeout);
    if (metadata.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return;  // the error callback reports unreachable brokers
    }
    for (std::size_t t = 0; t < config_.topics.size(); ++t) {
      if (metadata.topic_errors[t] != RD_KAFKA_RESP_ERR_NO_ERROR) {
        warn_throttled(metadata.topic_errors[t], fmt::format("{}: cannot read topic '{}': {}", identity,
                                                             config_.topics[t],
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
      assign(added);
    }
  }

  /// Starts reading `partitions` (not assigned yet): at their seek() offsets, else the group's committed ones.
  void assign(const std::set<PartitionId>& partitions) {
    KafkaPartitions list = partition_list(partitions);
    std::string names;
    for (int i = 0; i < list->cnt; ++i) {
      auto& element = list->elems[i];
      auto at = seek_.find(
          PartitionId{.topic = static_cast<std::uint32_t>(topic_index_of(element.topic)), .partition = element.partition});
      element.offset = at != seek_.end() ? at->second : RD_KAFKA_OFFSET_STORED;
      names += fmt::format("{}{}/{}", names.empty() ? "" : ", ", element.topic, element.partition);
    }
    if (KafkaError error{rd_kafka_incremental_assign(client_.get(), list.get())}) {
      throw core::Error("read partitions " + names + " for source '" + config_.name +
                        "': " + kafka_reason_text(rd_kafka_error_string(error.get())));
    }
    assigned_.insert(partitions.begin(), partitions.end());
    if (paused_) {
      rd_kafka_pause_partitions(client_.get(), list.get());
    }
    io_logger()->info("{}: reading {} partitions as worker {} of {}{}{}", identity, partitions.size(),
                      config_.worker_index, config_.worker_count, names.empty() ? "" : ": ", names);
  }

  [[nodiscard]] std::size_t topic_index_of(const char* name) const {
    for (std::size_t t = 0; t < config_.topics.size(); ++t) {
      if (config_.topics[t] == name) {
        return t;
      }
    }
    return 0;
  }

  [[nodiscard]] KafkaPartitions partition_list(const std::set<PartitionId>& partitions) const {
    KafkaPartitions list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
    for (const auto& [topic, partition] : partitions) {
      rd_kafka_topic_partition_list_add(list.get(), config_.topics[topic].c_str(), partition);
    }
    return list;
  }

  /// Consumes until the batch is full or nothing is queued, then hands the batch over.
  void read_messages() {
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
    if (!batch_.empty()) {
      (void)hand_over();
    }
  }

  void take(const rd_kafka_message_t& message) {
    if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* topic = message.rkt != nullptr ? rd_kafka_topic_name(message.rkt) : "?";
      warn_throttled(message.err, fmt::format("{}: {}/{}: {}", identity, topic, message.partition,
                                              kafka_reason_text(rd_kafka_message_errstr(&message))));
      return;
    }
    std::uint32_t topic = topic_of(message.rkt);
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

  [[nodiscard]] std::uint32_t topic_of(rd_kafka_topic_t* handle) {
    if (config_.topics.size() == 1) {
      return 0;
    }
    if (handle != last_topic_handle_) {
      last_topic_handle_ = handle;
      last_topic_ = static_cast<std::uint32_t>(topic_index_of(rd_kafka_topic_name(handle)));
    }
    return last_topic_;
  }

  /// Pushes the batch into the mailbox. Refused: keeps it, pauses the partitions and returns false.
  bool hand_over() {
    batch_.source = config_.source_index;
    batch_.generation = config_.generation;
    std::weak_ptr<KafkaSourceCore> weak = weak_from_this();
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

  void pause() {
    paused_ = true;
    KafkaPartitions list = partition_list(assigned_);
    rd_kafka_pause_partitions(client_.get(), list.get());
    io_logger()->debug("{}: the executor's mailbox is full; pausing {} partitions", identity, assigned_.size());
  }

  void resume() {
    waiting_for_room_ = false;
    if (!paused_) {
      return;
    }
    paused_ = false;
    KafkaPartitions list = partition_list(assigned_);
    rd_kafka_resume_partitions(client_.get(), list.get());
    io_logger()->debug("{}: resuming {} partitions", identity, assigned_.size());
  }

  /// The mailbox's room callback (the executor's thread): only wakes the poll thread.
  void on_room() {
    {
      std::lock_guard lock(wake_mutex_);
      room_ = true;
    }
    wake_.notify_all();
  }

  /// Waits until the mailbox has room (or, with or_stop, a stop is requested). True when there is room.
  bool wait_for_room(std::chrono::milliseconds timeout, bool or_stop) {
    std::unique_lock lock(wake_mutex_);
    wake_.wait_for(lock, timeout, [&] {
      return room_ || abandoned_.load(std::memory_order_acquire) ||
             (or_stop && stop_requested_.load(std::memory_order_acquire));
    });
    bool room = room_;
    room_ = false;
    return room;
  }

  /// After the stop request: hands over the last batch (waiting for room), closes the consumer (no commit).
  void finish() {
    while (!batch_.empty() && !hand_over()) {
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

  void close_client() {
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

  KafkaSourceConfig config_;
  Mailbox& mailbox_;
  core::BatchPool& pool_;
  SourcePosition seek_;

  // Owned by the poll thread (by start() before it runs).
  KafkaHandle client_;
  rd_kafka_queue_t* queue_ = nullptr;
  std::vector<rd_kafka_topic_t*> topics_;
  std::set<PartitionId> assigned_;
  core::FrameBatch batch_;
  bool waiting_for_room_ = false;  // the mailbox refused batch_
  Clock::time_point full_since_;
  bool paused_ = false;
  Clock::time_point next_refresh_;
  rd_kafka_topic_t* last_topic_handle_ = nullptr;
  std::uint32_t last_topic_ = 0;
  std::uint64_t skipped_ = 0;
  bool starting_ = true;
  bool auth_error_ = false;
  std::string last_error_;

  std::mutex warn_mutex_;  // commit() warns from the caller's thread
  std::map<int, Clock::time_point> last_warned_;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool room_ = false;
  std::atomic<bool> abandoned_{false};

  std::mutex mutex_;  // the client's lifetime against commit(); the stop callbacks
  std::atomic<bool> stop_requested_{false};
  bool stopped_ = false;
  std::vector<std::function<void()>> on_stopped_;
};

/// The Source handle: the core and its poll thread.
class KafkaSource final : public Source {
 public:
  KafkaSource(KafkaSourceConfig config, Mailbox& mailbox, core::BatchPool& pool)
      : core_(std::make_shared<KafkaSourceCore>(std::move(config), mailbox, pool)) {}

  ~KafkaSource() override {
    core_->abandon();
    core_->request_stop({});
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();  // destroyed from its own on_stopped callback; the thread holds the core
      } else {
        thread_.join();
      }
    } else {
      core_->mark_stopped();
    }
  }

  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  void start() override {
    if (started_) {
      return;
    }
    started_ = true;
    core_->start();
    thread_ = std::thread([core = core_] { core->run(); });
  }

  void stop(std::function<void()> on_stopped) override {
    core_->request_stop(std::move(on_stopped));
    if (!thread_.joinable()) {
      core_->mark_stopped();
    }
  }

  [[nodiscard]] core::Endpoint local_endpoint() const override { return {}; }
  [[nodiscard]] bool replayable() const override { return true; }
  void seek(const SourcePosition& position) override { core_->seek(position); }
  void commit(const SourcePosition& position) override { core_->commit(position); }

 private:
  std::shared_ptr<KafkaSourceCore> core_;
  std::thread thread_;
  bool started_ = false;
};

}  // namespace

std::unique_ptr<Source> make_kafka_source(KafkaSourceConfig config, core::BoundedMailbox<core::FrameBatch>& mailbox,
                                          core::BatchPool& pool) {
  return std::make_unique<KafkaSource>(std::move(config), mailbox, pool);
}

}  // namespace roo::io
