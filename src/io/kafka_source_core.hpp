#pragma once

#include "kafka_client_config.hpp"
#include "kafka_consumer_lag.hpp"
#include "kafka_fetch_stall_check.hpp"
#include "kafka_partition_assignment.hpp"
#include "kafka_quiet_partitions.hpp"

#include "roo/io/kafka_source.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace roo::io {

/// A Kafka source's consumer and the batch it fills, driven by one poll thread (run()). start() runs on the caller's
/// thread before that thread exists; commit() and request_stop() may be called from any thread. shared_ptr because
/// the mailbox's room callbacks (weak) and the poll thread outlive the Source handle's calls.
///
/// Reading: partitions are assigned by Roo (rd_kafka_incremental_assign, no group rebalancing), at the seek()
/// offsets, else the group's committed offsets (asked for by the source, not left to librdkafka: see
/// resolve_stored_offsets), else earliest/latest. A partition librdkafka stops fetching anyway is assigned again
/// (check_for_stalled_fetches). Messages are copied into one FrameBatch with
/// their Meta; the batch is handed over when it holds batch_bytes or the consumer queue is empty. When the mailbox
/// refuses it the thread stops polling, and if there is still no room after pause_after it pauses every assigned
/// partition (librdkafka then drops what it prefetched and fetches again from the last message handed to us on
/// resume); the room callback wakes it to hand over and resume.
///
/// Quiet: with enable.partition.eof, librdkafka tells once per end offset that a partition has nothing more
/// (RD_KAFKA_RESP_ERR__PARTITION_EOF). Once a partition sat at its end with nothing new for quiet_after
/// (KafkaQuietPartitions), the pair goes into the batch's news.quiet, and a batch holding only that is handed over
/// too, under the same backpressure. A pause drops what librdkafka had queued, such a signal included, but the pause's
/// version barrier also resets librdkafka's memory of the end it signalled (rd_kafka_toppar_fetch_decide), so after the
/// resume it signals that end again: nothing is lost (KafkaSource tests: a pause between a quiet partition's end and
/// its signal).
class KafkaSourceCore : public KafkaClientIdentity, public std::enable_shared_from_this<KafkaSourceCore> {
 public:
  using Clock = std::chrono::steady_clock;
  using Mailbox = core::BoundedMailbox<core::FrameBatch>;
  static constexpr std::chrono::milliseconds poll_interval{100};
  static constexpr std::chrono::milliseconds metadata_timeout{2000};  // one metadata request
  static constexpr std::chrono::milliseconds start_attempt{500};      // one metadata request while start() waits
  // The mailbox must stay full this long before the partitions are paused: librdkafka refetches a resumed partition
  // only after its pending fetch returns (up to fetch.wait.max.ms, 500 ms by default), so pausing at every brief
  // full mailbox would stall the source; meanwhile what librdkafka prefetches is bounded by
  // queued.max.messages.kbytes.
  static constexpr std::chrono::milliseconds pause_after{100};
  static constexpr std::chrono::seconds warning_interval{30};  // the same error is logged at most this often
  static constexpr std::size_t max_frames_per_batch = 65536;
  // While paused, how often the source asks the brokers for what its lag needs (ask_brokers_for_lag), and how long it
  // may wait for the answers: the resume waits that long at worst.
  static constexpr std::chrono::milliseconds lag_query_interval{2000};
  static constexpr std::chrono::milliseconds lag_query_budget{500};
  // How often the source looks for partitions librdkafka stopped fetching (KafkaFetchStallCheck): a stalled
  // partition is assigned again after one to two of these.
  static constexpr std::chrono::seconds stall_check_interval{10};

  KafkaSourceCore(KafkaSourceConfig config, Mailbox& mailbox, core::BatchPool& pool)
      : config_(std::move(config)), mailbox_(mailbox), pool_(pool), lag_(config_.topics), batch_(pool.acquire()) {
    identity = "kafka_source '" + config_.name + "'";
  }

  ~KafkaSourceCore() { close_client(); }

  KafkaSourceCore(const KafkaSourceCore&) = delete;
  KafkaSourceCore& operator=(const KafkaSourceCore&) = delete;

  /// Before start(): where the partitions it names start.
  void seek(const SourcePosition& position) { seek_ = position; }

  /// On the caller's thread, before run(): creates the consumer, waits for the brokers and topics (throws
  /// core::Error after broker_wait, or at once on an authentication failure) and assigns this worker's partitions.
  void start();

  /// The poll thread's body: reads until request_stop(), hands over what it read, closes the consumer.
  void run();

  /// Any thread: ends the poll loop; `on_stopped` runs on the poll thread once the last batch was handed over (at
  /// once when already stopped).
  void request_stop(std::function<void()> on_stopped);

  /// The Source was never started: nothing to hand over.
  void mark_stopped();

  /// The Source handle is going away: a stop stuck on a full mailbox gives up its last batch.
  void abandon();

  /// Any thread: commits `position` to the group asynchronously (a failure is a warn line); once stopped, with a
  /// short-lived client, waiting for the answer (the runtime commits the final positions after its drain).
  void commit(const SourcePosition& position);

  /// Any thread: Source::starts.
  [[nodiscard]] SourcePosition starts() const {
    std::lock_guard lock(starts_mutex_);
    return starts_;
  }

  /// Any thread: Source::consumer_lag (KafkaConsumerLag).
  [[nodiscard]] std::vector<PartitionLag> consumer_lag() const { return lag_.read(); }

 private:
  void validate() const;

  KafkaConf make_config();
  /// commit() once the consumer is closed: with a short-lived client of the same group, mutex_ held.
  void commit_after_stop(rd_kafka_topic_partition_list_t* offsets);

  /// Asks for the topics' partitions until every topic is known, for up to broker_wait; throws when time is up.
  KafkaTopicMetadata wait_for_topics();

  /// Why no broker answered: the client's last connection error if it reported one.
  [[nodiscard]] std::string broker_cause(rd_kafka_resp_err_t error) const;

  void on_client_error(rd_kafka_resp_err_t error, const char* reason);

  void on_committed(rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* offsets);

  [[nodiscard]] bool should_warn(rd_kafka_resp_err_t error);

  void warn_throttled(rd_kafka_resp_err_t error, const std::string& line);

  void refresh_partitions();

  /// Starts reading `partitions` (not assigned yet): at their seek() offsets, else the group's committed ones, else
  /// `start` (partitions `added_later` than the start: their beginning). Returns the failure after "unable to ".
  [[nodiscard]] std::string assign(const std::set<PartitionId>& partitions, bool added_later);
  /// The elements of `list` at RD_KAFKA_OFFSET_STORED get the group's committed offset, else the start (`earliest`,
  /// or `added_later`: their beginning; else their end; as an offset when the brokers say which: edge_offset).
  /// Returns the failure after broker_wait (added_later: after metadata_timeout; the next refresh tries again).
  [[nodiscard]] std::string resolve_stored_offsets(rd_kafka_topic_partition_list_t* list, bool added_later);

  /// Partition `element`'s beginning (`end` false) or end as an offset (the one librdkafka's RD_KAFKA_OFFSET_BEGINNING
  /// or _END would start at), so that starts() and the executor's positions can name it; the symbolic offset itself
  /// when the brokers do not answer within metadata_timeout.
  [[nodiscard]] std::int64_t edge_offset(const rd_kafka_topic_partition_t& element, bool end);

  [[nodiscard]] std::size_t topic_index_of(const char* name) const;

  [[nodiscard]] KafkaPartitions partition_list(const std::set<PartitionId>& partitions) const;

  /// Consumes until the batch is full or nothing is queued, then hands the batch over.
  void read_messages();

  void take(const rd_kafka_message_t& message);

  [[nodiscard]] std::uint32_t topic_of(rd_kafka_topic_t* handle);

  /// Pushes the batch into the mailbox. Refused: keeps it, pauses the partitions and returns false.
  bool hand_over();

  void pause();

  /// While paused (librdkafka fetches nothing then): the partitions' high watermarks, and where partitions the source
  /// has read nothing of started (their committed offsets, else with `earliest` their beginning), for consumer_lag().
  void ask_brokers_for_lag();

  void resume();

  /// When due: the partitions' positions and lags, and each partition librdkafka stopped fetching assigned again at
  /// its position, with a warn line (KafkaFetchStallCheck).
  void check_for_stalled_fetches();
  void assign_again(const std::vector<PartitionId>& stalled, const std::map<PartitionId, std::int64_t>& positions);

  /// The mailbox's room callback (the executor's thread): only wakes the poll thread.
  void on_room();

  /// Waits until the mailbox has room (or, with or_stop, a stop is requested). True when there is room.
  bool wait_for_room(std::chrono::milliseconds timeout, bool or_stop);

  /// After the stop request: hands over the last batch (waiting for room), closes the consumer (no commit).
  void finish();

  void close_client();

  KafkaSourceConfig config_;
  Mailbox& mailbox_;
  core::BatchPool& pool_;
  SourcePosition seek_;
  KafkaConsumerLag lag_;  // attached to client_ from start() until finish() or close_client()

  // Owned by the poll thread (by start() before it runs).
  KafkaHandle client_;
  rd_kafka_queue_t* queue_ = nullptr;
  std::vector<rd_kafka_topic_t*> topics_;
  std::set<PartitionId> assigned_;
  std::map<PartitionId, std::int64_t> assigned_at_;  // the offset each was assigned at (maybe a logical one)
  core::FrameBatch batch_;
  KafkaQuietPartitions quiet_{config_.quiet_after};
  bool waiting_for_room_ = false;  // the mailbox refused batch_
  Clock::time_point full_since_;
  bool paused_ = false;
  Clock::time_point next_lag_query_;
  KafkaFetchStallCheck stall_check_{stall_check_interval, Clock::now()};
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

  mutable std::mutex starts_mutex_;
  SourcePosition starts_;  // guarded by starts_mutex_: assign() writes it, starts() reads it from any thread

  std::mutex mutex_;  // the client's lifetime against commit(); the stop callbacks
  std::atomic<bool> stop_requested_{false};
  bool stopped_ = false;
  std::vector<std::function<void()>> on_stopped_;
};

}  // namespace roo::io
