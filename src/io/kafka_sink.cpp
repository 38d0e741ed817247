#include "roo/io/kafka_sink.hpp"

#include "io_log.hpp"
#include "kafka_client_config.hpp"
#include "kafka_record_producer.hpp"
#include "kafka_transaction.hpp"

#include "roo/core/error.hpp"

#include <atomic>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace roo::io {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds idle_poll{100};
constexpr std::chrono::milliseconds busy_poll{5};
constexpr std::chrono::milliseconds transaction_timeout{30000};  // one transactional call
constexpr std::chrono::seconds warning_interval{10};            // repeated warnings of one kind, at most this often
constexpr int commit_attempts = 3;                               // an aborted commit is produced again this often
constexpr std::uint64_t no_limit = std::numeric_limits<std::uint64_t>::max();

/// A write()'s batch until every record of it was handed to librdkafka.
struct Queued {
  RecordBatch batch;
  std::size_t next = 0;    ///< the next record to produce
  std::uint64_t id = 0;    ///< write order; also the delivery reports' opaque
  std::size_t bytes = 0;   ///< counted in the budget
};

/// A written batch whose records are not all delivered (or given up on).
struct InFlight {
  std::size_t records_left = 0;
  std::size_t bytes = 0;  ///< released from the budget when the last record is done (at-least-once mode)
};

/// The producer behind a Kafka sink and everything it holds, driven by one thread (run()): it serves librdkafka's
/// delivery reports, retries records refused by a full queue, and runs the transactional steps in order. write(),
/// flush() and the checkpoint calls may come from any thread; the first three switch state under mutex_ at once (so
/// what was written before a prepare() belongs to its checkpoint) and leave the blocking work to the thread.
/// shared_ptr because the thread holds it while the Sink handle may be destroyed from the sink's own callback.
class KafkaSinkCore : public KafkaClientIdentity {
 public:
  explicit KafkaSinkCore(KafkaSinkConfig config)
      : config_(std::move(config)), budget_(config_.max_buffered_bytes) {
    identity = "kafka_sink '" + config_.name + "'";
  }

  ~KafkaSinkCore() {
    if (topic_ != nullptr) {
      rd_kafka_topic_destroy(topic_);
    }
  }

  KafkaSinkCore(const KafkaSinkCore&) = delete;
  KafkaSinkCore& operator=(const KafkaSinkCore&) = delete;

  [[nodiscard]] bool transactional() const { return !config_.transactional_id.empty(); }

  void start() {
    if (config_.topic.empty()) {
      throw core::UsageError("write to Kafka for sink '" + config_.name + "': no topic given");
    }
    KafkaProperties own = {{"linger.ms", std::to_string(config_.linger.count())},
                           {"socket.nagle.disable", "true"},
                           {"enable.idempotence", "true"}};
    if (config_.max_message_size + 4096 > 1000000) {
      own.emplace_back("message.max.bytes", std::to_string(config_.max_message_size + 4096));
    }
    if (transactional()) {
      own.emplace_back("transactional.id", config_.transactional_id);
    }
    KafkaConf conf = make_kafka_client_config(*this, config_.brokers, own, config_.properties);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), [](rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
      static_cast<KafkaSinkCore*>(static_cast<KafkaClientIdentity*>(opaque))->on_delivery(*message);
    });
    rd_kafka_conf_set_error_cb(conf.get(), [](rd_kafka_t* client, int error, const char* reason, void* opaque) {
      static_cast<KafkaSinkCore*>(static_cast<KafkaClientIdentity*>(opaque))
          ->on_client_error(client, static_cast<rd_kafka_resp_err_t>(error), reason);
    });
    producer_ = make_kafka_client(RD_KAFKA_PRODUCER, std::move(conf), identity);
    topic_ = rd_kafka_topic_new(producer_.get(), config_.topic.c_str(), nullptr);
    main_queue_ = rd_kafka_queue_get_main(producer_.get());
    if (transactional()) {
      transaction_.emplace(producer_.get(), config_.transactional_id, config_.topic, config_.brokers,
                           config_.properties);
      post([this] { initialize(); });
    } else {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    io_logger()->info("{}: producing to topic '{}' at {}{}", identity, config_.topic, config_.brokers,
                      transactional() ? " in transactions as '" + config_.transactional_id + "'" : "");
  }

  void write(RecordBatch&& batch) {
    std::size_t bytes = batch.size_bytes();
    std::size_t records = record_count(batch);
    if (records == 0) {
      return;
    }
    budget_.add(bytes);
    std::lock_guard lock(mutex_);
    if (failed_ || stopping_) {
      count_undelivered(bytes, failed_ ? failure_ : "written after the sink stopped");
      budget_.release(bytes);
      return;
    }
    std::uint64_t id = next_id_++;
    in_flight_[id] = InFlight{.records_left = records, .bytes = transactional() ? 0 : bytes};
    queue_.push_back(Queued{.batch = std::move(batch), .next = 0, .id = id, .bytes = bytes});
    if (queue_.size() == 1 && produce_queued() && main_queue_ != nullptr) {
      rd_kafka_queue_yield(main_queue_);  // the thread retries sooner than its idle poll
    }
  }

  void flush(std::function<void(std::string)> done) {
    std::unique_lock lock(mutex_);
    std::uint64_t upto = next_id_;
    if (failed_) {
      lock.unlock();
      done(failure_line());
      return;
    }
    if (in_flight_.empty() || in_flight_.begin()->first >= upto) {
      lock.unlock();
      done({});
      return;
    }
    flush_waiters_.emplace_back(upto, std::move(done));
  }

  void prepare(std::uint64_t checkpoint, Sink::Prepared done) {
    {
      std::lock_guard lock(mutex_);
      // What is written from now on waits for the commit. A checkpoint may be prepared while the previous one's
      // commit still waits in tasks_ (the executor commits n and begins n + 1 at once): the limit then stays at
      // n's cut until that commit ran, so that n's transaction holds n's output only.
      cuts_.emplace_back(checkpoint, next_id_);
      if (cuts_.size() == 1) {
        produce_limit_ = next_id_;
      }
    }
    post([this, checkpoint, done = std::move(done)] { run_prepare(checkpoint, done); });
  }

  void commit(std::uint64_t checkpoint, Sink::Done done) {
    post([this, checkpoint, done = std::move(done)] { run_commit(checkpoint, done); });
  }

  void abort() {
    {
      std::lock_guard lock(mutex_);
      drop_uncommitted();
      open_ = false;
    }
    post([this] { run_abort(); });
  }

  void recover(std::uint64_t checkpoint, std::vector<RecordBatch> records, Sink::Done done) {
    post([this, checkpoint, records = std::move(records), done = std::move(done)]() mutable {
      run_recover(checkpoint, records, done);
    });
  }

  void stop(std::function<void()> on_stopped) {
    std::unique_lock lock(mutex_);
    if (stopped_) {
      lock.unlock();
      if (on_stopped) {
        on_stopped();
      }
      return;
    }
    if (on_stopped) {
      on_stopped_.push_back(std::move(on_stopped));
    }
    if (!stopping_) {
      stopping_ = true;
      if (main_queue_ != nullptr) {
        rd_kafka_queue_yield(main_queue_);
      }
    }
  }

  /// The handle is going away without waiting for deliveries: give up on what is queued.
  void abandon() {
    abandoned_.store(true);
    stop({});
  }

  /// Never started: nothing to deliver.
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

  /// The sink thread's body.
  void run() {
    for (;;) {
      run_tasks();
      bool busy = false;
      {
        std::lock_guard lock(mutex_);
        if (stopping_ && tasks_.empty()) {
          break;
        }
        busy = produce_queued();
      }
      rd_kafka_poll(producer_.get(), kafka_timeout(busy ? busy_poll : idle_poll));
      apply_deliveries();
    }
    finish();
  }

  [[nodiscard]] core::ByteBudget& budget() { return budget_; }
  [[nodiscard]] std::size_t undelivered_bytes() const { return undelivered_bytes_.load(); }
  [[nodiscard]] std::string undelivered_reason() const {
    std::lock_guard lock(mutex_);
    return undelivered_reason_;
  }
  [[nodiscard]] bool failed() const {
    std::lock_guard lock(mutex_);
    return failed_;
  }

 private:
  void post(std::function<void()> task) {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
    if (main_queue_ != nullptr) {
      rd_kafka_queue_yield(main_queue_);
    }
  }

  void run_tasks() {
    for (;;) {
      std::function<void()> task;
      {
        std::lock_guard lock(mutex_);
        if (tasks_.empty()) {
          return;
        }
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  /// Hands queued records to librdkafka, in order, while a transaction (if any) may take them. Returns true when
  /// some are left because librdkafka's queue is full (the thread polls and retries). Called with mutex_ held.
  bool produce_queued() {
    while (!queue_.empty() && open_ && !failed_ && queue_.front().id < produce_limit_) {
      Queued& front = queue_.front();
      std::size_t records = record_count(front.batch);
      while (front.next < records) {
        std::size_t size = record_size(front.batch, front.next);
        if (size > config_.max_message_size) {
          ++oversized_;
          count_undelivered(size, "records over max_message_size");
          warn_throttled(oversized_warned_, fmt::format("{}: not sending a record of {} bytes to topic '{}': over "
                                                        "max_message_size {} ({} so far)",
                                                        identity, size, config_.topic, config_.max_message_size,
                                                        oversized_));
          record_done(front.id);
          ++front.next;
          continue;
        }
        rd_kafka_resp_err_t result = produce_record(producer_.get(), topic_, front.batch, front.next,
                                                    reinterpret_cast<void*>(static_cast<std::uintptr_t>(front.id)));
        if (result == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          return true;
        }
        if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
          count_undelivered(size, kafka_error_text(result));
          warn_throttled(failure_warned_, fmt::format("{}: cannot produce a record to topic '{}': {}", identity,
                                                      config_.topic, kafka_error_text(result)));
          record_done(front.id);
        }
        ++front.next;
      }
      if (transactional()) {
        txn_bytes_ += front.bytes;
        txn_batches_.push_back(std::move(front.batch));
      }
      queue_.pop_front();
    }
    return false;
  }

  /// A delivery report (the sink thread, inside rd_kafka_poll or a transactional call): only noted here, applied
  /// under the lock once per poll.
  void on_delivery(const rd_kafka_message_t& message) {
    auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(message._private));
    if (!delivered_.empty() && delivered_.back().first == id) {
      ++delivered_.back().second;
    } else {
      delivered_.emplace_back(id, 1);
    }
    if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::string cause = kafka_error_text(message.err);
      std::lock_guard lock(mutex_);
      if (transactional()) {
        transaction_failed_delivery_ = true;  // the commit fails and produces the transaction's records again
        io_logger()->debug("{}: a record was not delivered to {}/{}: {}", identity, config_.topic, message.partition,
                           cause);
        return;
      }
      ++undelivered_records_;
      count_undelivered(message.len + message.key_len, cause);
      warn_throttled(failure_warned_, fmt::format("{}: could not deliver a record to {}/{}: {} ({} so far)", identity,
                                                  config_.topic, message.partition, cause, undelivered_records_));
    }
  }

  void apply_deliveries() {
    if (delivered_.empty()) {
      return;
    }
    std::vector<std::pair<std::uint64_t, std::function<void(std::string)>>> ready;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, count] : delivered_) {
        record_done(id, count);
      }
      ready = take_ready_flushes();
    }
    delivered_.clear();
    for (auto& [upto, done] : ready) {
      done({});
    }
  }

  /// `count` records of batch `id` are done with (delivered or given up on). Called with mutex_ held.
  void record_done(std::uint64_t id, std::size_t count = 1) {
    auto at = in_flight_.find(id);
    if (at == in_flight_.end()) {
      return;
    }
    at->second.records_left -= std::min(count, at->second.records_left);
    if (at->second.records_left == 0) {
      budget_.release(at->second.bytes);
      in_flight_.erase(at);
    }
  }

  std::vector<std::pair<std::uint64_t, std::function<void(std::string)>>> take_ready_flushes() {
    std::vector<std::pair<std::uint64_t, std::function<void(std::string)>>> ready;
    std::uint64_t oldest = in_flight_.empty() ? no_limit : in_flight_.begin()->first;
    for (auto it = flush_waiters_.begin(); it != flush_waiters_.end();) {
      if (it->first <= oldest) {
        ready.push_back(std::move(*it));
        it = flush_waiters_.erase(it);
      } else {
        ++it;
      }
    }
    return ready;
  }

  void on_client_error(rd_kafka_t* client, rd_kafka_resp_err_t error, const char* reason) {
    if (error == RD_KAFKA_RESP_ERR__FATAL) {
      std::array<char, 512> text{};
      rd_kafka_resp_err_t cause = rd_kafka_fatal_error(client, text.data(), text.size());
      bool fenced = cause == RD_KAFKA_RESP_ERR__FENCED || cause == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
                    cause == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
      fail(kafka_reason_text(text.data()), fenced);
      return;
    }
    std::lock_guard lock(mutex_);
    auto& last = client_error_warned_[static_cast<int>(error)];
    if (Clock::now() - last >= std::chrono::seconds(30)) {
      last = Clock::now();
      io_logger()->warn("{}: {}", identity, kafka_reason_text(reason));
    }
  }

  /// The sink cannot go on (fenced, or another fatal error): one line; writes are counted as undelivered from now.
  void fail(const std::string& cause, bool fenced) {
    std::lock_guard lock(mutex_);
    if (failed_) {
      return;
    }
    failed_ = true;
    failure_ = fenced ? "fenced by a newer instance with transactional.id '" + config_.transactional_id + "'"
                      : cause;
    io_logger()->error("{}", failure_line());
    std::size_t held = txn_bytes_;
    for (const auto& queued : queue_) {
      held += queued.bytes;
    }
    if (held > 0) {
      count_undelivered(held, failure_);
    }
    drop_uncommitted();
  }

  [[nodiscard]] std::string failure_line() const {
    return identity + ": " + failure_ + " (" + cause_suffix() + "); the sink stops writing";
  }
  [[nodiscard]] std::string cause_suffix() const { return "topic '" + config_.topic + "'"; }

  /// Discards the open transaction's records and the queued ones, releasing their budget. Called with mutex_ held.
  void drop_uncommitted() {
    std::size_t bytes = txn_bytes_;
    for (const auto& queued : queue_) {
      bytes += queued.bytes;
      in_flight_.erase(queued.id);
    }
    queue_.clear();
    txn_batches_.clear();
    txn_bytes_ = 0;
    cuts_.clear();
    produce_limit_ = no_limit;
    if (transactional()) {
      budget_.release(bytes);
    }
  }

  void count_undelivered(std::size_t bytes, const std::string& reason) {
    undelivered_bytes_ += bytes;
    undelivered_reason_ = reason;
  }

  void warn_throttled(Clock::time_point& last, const std::string& line) {
    if (Clock::now() - last >= warning_interval) {
      last = Clock::now();
      io_logger()->warn("{}", line);
    }
  }

  // ---- transactions (the sink thread) ----

  /// Reports a failed transactional step: fatal ones fail the sink. Returns the line for the caller's `done`.
  std::string report(const char* step, std::uint64_t checkpoint, const KafkaTransactionResult& result) {
    if (result.kind == KafkaTransactionResult::Kind::fatal) {
      fail(result.text, result.fenced);
      return failure_line();
    }
    std::string line = fmt::format("{}: cannot {} the transaction of checkpoint {}: {}", identity, step, checkpoint,
                                   result.text);
    io_logger()->warn("{}", line);
    return line;
  }

  /// init_transactions, retried (one line) until it succeeds, fails for good, or the sink stops.
  void initialize() {
    bool warned = false;
    for (;;) {
      KafkaTransactionResult result = transaction_->init(transaction_timeout);
      if (result.ok()) {
        break;
      }
      if (result.kind == KafkaTransactionResult::Kind::fatal) {
        fail("cannot initialize transactions: " + result.text, result.fenced);
        return;
      }
      if (!warned) {
        warned = true;
        io_logger()->warn("{}: cannot initialize transactions ({}); retrying", identity, result.text);
      }
      std::lock_guard lock(mutex_);
      if (stopping_) {
        return;
      }
    }
    initialized_ = true;
    (void)begin();
  }

  /// Opens the next transaction; the thread then produces what waits in the queue.
  bool begin() {
    KafkaTransactionResult result = transaction_->begin();
    if (!result.ok()) {
      fail("cannot begin a transaction: " + result.text, result.fenced);
      return false;
    }
    in_transaction_ = true;
    std::lock_guard lock(mutex_);
    open_ = true;
    transaction_failed_delivery_ = false;
    return true;
  }

  /// Produces every queued record below the produce limit, polling while librdkafka's queue is full.
  void produce_all() {
    for (;;) {
      bool full = false;
      {
        std::lock_guard lock(mutex_);
        full = produce_queued();
      }
      if (!full) {
        return;
      }
      rd_kafka_poll(producer_.get(), kafka_timeout(busy_poll));
      apply_deliveries();
    }
  }

  void run_prepare(std::uint64_t checkpoint, const Sink::Prepared& done) {
    if (failed()) {
      done(failure_line(), {});
      return;
    }
    {
      // Older checkpoints prepared but never committed (given up) share this one's transaction.
      std::lock_guard lock(mutex_);
      while (!cuts_.empty() && cuts_.front().first < checkpoint) {
        cuts_.pop_front();
      }
      if (!cuts_.empty() && cuts_.front().first == checkpoint) {
        produce_limit_ = cuts_.front().second;
      }
    }
    produce_all();
    KafkaTransactionResult result = transaction_->mark(checkpoint, transaction_timeout);
    if (result.ok()) {
      rd_kafka_resp_err_t flushed = rd_kafka_flush(producer_.get(), kafka_timeout(transaction_timeout));
      apply_deliveries();
      if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = KafkaTransactionResult{.kind = KafkaTransactionResult::Kind::retriable,
                                        .text = kafka_error_text(flushed)};
      }
    }
    if (!result.ok()) {
      done(report("prepare", checkpoint, result), {});
      return;
    }
    std::vector<RecordBatch> records;
    {
      std::lock_guard lock(mutex_);
      records = txn_batches_;  // ours stay for a commit that must be produced again
    }
    done({}, std::move(records));
  }

  void run_commit(std::uint64_t checkpoint, const Sink::Done& done) {
    if (failed()) {
      done(failure_line());
      return;
    }
    {
      std::lock_guard lock(mutex_);
      if (last_committed_ && *last_committed_ >= checkpoint) {
        done({});
        return;
      }
      if (cuts_.empty() || cuts_.front().first != checkpoint) {
        done(fmt::format("{}: cannot commit checkpoint {}: it was not prepared", identity, checkpoint));
        return;
      }
      open_ = false;
    }
    KafkaTransactionResult result = transaction_->commit(transaction_timeout);
    in_transaction_ = false;
    for (int attempt = 1; result.kind == KafkaTransactionResult::Kind::abortable && attempt < commit_attempts;
         ++attempt) {
      io_logger()->warn("{}: the transaction of checkpoint {} was aborted ({}); producing it again", identity,
                        checkpoint, result.text);
      result = produce_again(checkpoint);
    }
    apply_deliveries();
    if (!result.ok()) {
      done(report("commit", checkpoint, result));
      return;
    }
    {
      std::lock_guard lock(mutex_);
      budget_.release(txn_bytes_);
      txn_bytes_ = 0;
      txn_batches_.clear();
      cuts_.pop_front();
      produce_limit_ = cuts_.empty() ? no_limit : cuts_.front().second;  // the next prepared checkpoint's cut
      last_committed_ = checkpoint;
    }
    io_logger()->debug("{}: committed the transaction of checkpoint {}", identity, checkpoint);
    if (begin()) {
      done({});
    } else {
      done(failure_line());
    }
  }

  /// After an aborted commit: aborts, then writes the transaction's records and marker again and commits.
  KafkaTransactionResult produce_again(std::uint64_t checkpoint) {
    KafkaTransactionResult result = transaction_->abort(transaction_timeout);
    if (!result.ok()) {
      return result;
    }
    result = transaction_->begin();
    if (!result.ok()) {
      return result;
    }
    std::vector<RecordBatch> batches;
    {
      std::lock_guard lock(mutex_);
      batches = txn_batches_;
    }
    produce_records(batches);
    result = transaction_->mark(checkpoint, transaction_timeout);
    return result.ok() ? transaction_->commit(transaction_timeout) : result;
  }

  /// Produces `batches` outside the write queue (a recovery, or a commit produced again).
  void produce_records(const std::vector<RecordBatch>& batches) {
    for (const auto& batch : batches) {
      for (std::size_t i = 0; i < record_count(batch); ++i) {
        if (record_size(batch, i) > config_.max_message_size) {
          continue;  // counted when it was first written
        }
        rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR__QUEUE_FULL;
        while ((result = produce_record(producer_.get(), topic_, batch, i, reinterpret_cast<void*>(no_limit))) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          rd_kafka_poll(producer_.get(), kafka_timeout(busy_poll));
          apply_deliveries();
        }
      }
    }
  }

  void run_abort() {
    if (failed() || !initialized_) {
      return;
    }
    in_transaction_ = false;
    KafkaTransactionResult result = transaction_->abort(transaction_timeout);
    apply_deliveries();
    if (!result.ok()) {
      (void)report("abort", last_committed_.value_or(0) + 1, result);
      return;
    }
    (void)begin();
  }

  void run_recover(std::uint64_t checkpoint, const std::vector<RecordBatch>& records, const Sink::Done& done) {
    if (failed()) {
      done(failure_line());
      return;
    }
    std::string error;
    std::optional<std::uint64_t> committed = transaction_->read_committed_checkpoint(transaction_timeout, error);
    if (!committed) {
      done(fmt::format("{}: cannot read which checkpoint committed last (group '{}'): {}", identity,
                       transaction_->marker_group(), error));
      return;
    }
    if (*committed >= checkpoint) {
      io_logger()->info("{}: checkpoint {} was committed before the restart", identity, checkpoint);
    } else {
      produce_records(records);
      KafkaTransactionResult result = transaction_->mark(checkpoint, transaction_timeout);
      if (result.ok()) {
        result = transaction_->commit(transaction_timeout);
      }
      apply_deliveries();
      if (!result.ok()) {
        done(report("commit", checkpoint, result));
        return;
      }
      io_logger()->info("{}: committed checkpoint {} again after the restart ({} batches)", identity, checkpoint,
                        records.size());
      if (!begin()) {
        done(failure_line());
        return;
      }
    }
    {
      std::lock_guard lock(mutex_);
      last_committed_ = checkpoint;
    }
    done({});
  }

  /// After stop(): delivers what is queued (at-least-once) or aborts what is not committed (transactional), closes.
  void finish() {
    if (transactional()) {
      std::size_t uncommitted = 0;
      {
        std::lock_guard lock(mutex_);
        uncommitted = txn_bytes_;
        for (const auto& queued : queue_) {
          uncommitted += queued.bytes;
        }
        if (uncommitted > 0 && !failed_) {
          count_undelivered(uncommitted, "not committed when the sink stopped");
        }
        drop_uncommitted();
      }
      if (!failed() && in_transaction_) {
        (void)transaction_->abort(std::chrono::milliseconds(5000));
      }
    } else {
      while (!abandoned_.load()) {
        bool full = false;
        {
          std::lock_guard lock(mutex_);
          full = produce_queued();
          if (!full && (in_flight_.empty() || failed_)) {
            break;
          }
        }
        rd_kafka_poll(producer_.get(), kafka_timeout(busy_poll));
        apply_deliveries();
      }
      if (abandoned_.load()) {
        rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(producer_.get(), 0);
        apply_deliveries();
      }
    }
    std::vector<std::function<void()>> callbacks;
    std::vector<std::pair<std::uint64_t, std::function<void(std::string)>>> flushes;
    {
      std::lock_guard lock(mutex_);
      std::size_t left = 0;
      for (const auto& [id, in_flight] : in_flight_) {
        left += in_flight.bytes;
      }
      if (left > 0) {
        count_undelivered(left, "not delivered when the sink stopped");
      }
      stopped_ = true;
      callbacks.swap(on_stopped_);
      flushes.swap(flush_waiters_);
      rd_kafka_queue_destroy(main_queue_);
      main_queue_ = nullptr;
    }
    rd_kafka_topic_destroy(topic_);
    topic_ = nullptr;
    producer_.reset();
    io_logger()->info("{}: stopped ({} bytes undelivered)", identity, undelivered_bytes_.load());
    for (auto& [upto, done] : flushes) {
      done(identity + ": stopped before delivering everything");
    }
    for (auto& callback : callbacks) {
      callback();
    }
  }

  KafkaSinkConfig config_;
  core::ByteBudget budget_;
  KafkaHandle producer_;
  rd_kafka_topic_t* topic_ = nullptr;
  rd_kafka_queue_t* main_queue_ = nullptr;  // yielded to wake the thread
  std::optional<KafkaTransaction> transaction_;

  // The sink thread's own.
  std::vector<std::pair<std::uint64_t, std::size_t>> delivered_;  // (batch id, records) reported since the last poll
  std::atomic<bool> abandoned_{false};
  bool initialized_ = false;     // init_transactions succeeded
  bool in_transaction_ = false;  // begin_transaction was called and the transaction not yet ended

  mutable std::mutex mutex_;
  std::deque<Queued> queue_;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, InFlight> in_flight_;
  std::vector<std::pair<std::uint64_t, std::function<void(std::string)>>> flush_waiters_;
  std::deque<std::function<void()>> tasks_;
  bool open_ = false;                    // records may be produced (transactional: a transaction is open)
  std::uint64_t produce_limit_ = no_limit;  // after prepare(): batches from this id on wait for the commit
  /// (checkpoint, the first batch id after its cut) of each prepare() not yet committed, oldest first.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> cuts_;
  std::optional<std::uint64_t> last_committed_;
  std::vector<RecordBatch> txn_batches_;  // produced into the open transaction, kept until it commits
  std::size_t txn_bytes_ = 0;
  bool transaction_failed_delivery_ = false;
  bool failed_ = false;
  std::string failure_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::vector<std::function<void()>> on_stopped_;
  std::atomic<std::size_t> undelivered_bytes_{0};
  std::string undelivered_reason_;
  std::uint64_t undelivered_records_ = 0;
  std::uint64_t oversized_ = 0;
  Clock::time_point oversized_warned_{};
  Clock::time_point failure_warned_{};
  std::map<int, Clock::time_point> client_error_warned_;
};

/// The Sink handle: the core and its thread.
class KafkaSink final : public Sink {
 public:
  explicit KafkaSink(KafkaSinkConfig config) : core_(std::make_shared<KafkaSinkCore>(std::move(config))) {}

  ~KafkaSink() override {
    core_->abandon();
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();  // destroyed from its own callback; the thread holds the core
      } else {
        thread_.join();
      }
    }
  }

  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  void start() override {
    if (thread_.joinable()) {
      return;
    }
    core_->start();
    thread_ = std::thread([core = core_] { core->run(); });
  }
  [[nodiscard]] bool takes_records() const override { return true; }
  void write(RecordBatch&& batch) override { core_->write(std::move(batch)); }
  [[nodiscard]] core::ByteBudget& budget() override { return core_->budget(); }
  void flush(std::function<void(std::string error)> done) override { core_->flush(std::move(done)); }
  [[nodiscard]] bool transactional() const override { return core_->transactional(); }
  void prepare(std::uint64_t checkpoint, Prepared done) override { core_->prepare(checkpoint, std::move(done)); }
  void commit(std::uint64_t checkpoint, Done done) override { core_->commit(checkpoint, std::move(done)); }
  void abort() override { core_->abort(); }
  void recover(std::uint64_t checkpoint, std::vector<RecordBatch> records, Done done) override {
    core_->recover(checkpoint, std::move(records), std::move(done));
  }
  void stop(std::function<void()> on_stopped) override {
    core_->stop(std::move(on_stopped));
    if (!thread_.joinable()) {
      core_->mark_stopped();
    }
  }
  [[nodiscard]] std::size_t undelivered_bytes() const override { return core_->undelivered_bytes(); }
  [[nodiscard]] std::string undelivered_reason() const override { return core_->undelivered_reason(); }
  [[nodiscard]] bool failed() const override { return core_->failed(); }

 private:
  std::shared_ptr<KafkaSinkCore> core_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Sink> make_kafka_sink(KafkaSinkConfig config) {
  return std::make_unique<KafkaSink>(std::move(config));
}

}  // namespace roo::io
