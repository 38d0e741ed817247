#pragma once

#include "kafka_client_config.hpp"
#include "kafka_transaction.hpp"
#include "kafka_written_offsets.hpp"

#include "roo/io/kafka_sink.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace roo::io {

/// A write()'s batch until every record of it was handed to librdkafka.
struct Queued {
  RecordBatch batch;
  std::size_t next = 0;     ///< the next record to produce
  std::uint64_t id = 0;     ///< write order; also the delivery reports' opaque
  std::size_t bytes = 0;    ///< counted in the budget
  std::size_t checked = 0;  ///< records before this one were checked against max_message_size (and counted if over)
};

/// A written batch whose records are not all delivered (or given up on).
struct InFlight {
  std::size_t records_left = 0;
  std::size_t bytes = 0;  ///< released from the budget when the last record is done (at-least-once mode)
};

/// A flush() waiting for the batches written before it.
struct FlushWaiter {
  std::uint64_t upto = 0;  ///< batches with a lower id
  std::function<void(std::string)> done;
  std::string error;  ///< set when one of those batches lost a record
};

/// One of a transactional Kafka sink's two producers (docs/kafka.md, "Exactly once"): its librdkafka handle, its
/// transaction, and the batches produced into that transaction, kept until it commits. Without transactions the sink
/// has only the first one, and no transaction.
struct TransactionalProducer {
  KafkaHandle producer;
  rd_kafka_topic_t* topic = nullptr;
  rd_kafka_queue_t* main_queue = nullptr;  // yielded to wake the sink thread
  std::optional<KafkaTransaction> transaction;
  bool in_transaction = false;  ///< begin_transaction was called and the transaction not yet ended
  /// The checkpoint whose prepared transaction this producer holds until its commit (not the one producing).
  std::optional<std::uint64_t> prepared;
  Sink::SharedBatches batches;  ///< produced into the open transaction; kept until its commit
  std::size_t bytes = 0;        ///< of `batches`, counted in the budget until the commit
  /// Records handed to librdkafka since the transaction began (under the sink's mutex_), and where those delivered
  /// landed (the sink thread's own): prepare() hands the offsets to the checkpoint when they cover every record.
  std::uint64_t produced = 0;
  KafkaWrittenOffsets written;
};

/// The producer behind a Kafka sink and everything it holds, driven by one thread (run()): it serves librdkafka's
/// delivery reports, retries records refused by a full queue, and runs the transactional steps in order. write(),
/// flush() and the checkpoint calls may come from any thread; the first three switch state under mutex_ at once (so
/// what was written before a prepare() belongs to its checkpoint) and leave the blocking work to the thread.
/// shared_ptr because the thread holds it while the Sink handle may be destroyed from the sink's own callback.
///
/// Transactional, the sink has two producers (transactional ids T and T + second_id_suffix) that take checkpoints
/// in turn: at checkpoint n's cut the active one flushes n's transaction and holds it for commit(n), and the other
/// opens n+1's at once, so that the output behind the cut flows while checkpoint n is written and completed
/// (Flink's producer pool, sized two because one checkpoint is in flight at a time). Commits stay in checkpoint
/// order: n+1 is prepared only after n committed (or, given up, was merged into n+1's transaction).
class KafkaSinkCore : public KafkaClientIdentity {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds idle_poll{100};
  static constexpr std::chrono::milliseconds busy_poll{5};
  static constexpr std::chrono::milliseconds transaction_timeout{30000};  // one transactional call
  static constexpr std::chrono::seconds warning_interval{10};  // repeated warnings of one kind, at most this often
  static constexpr int commit_attempts = 3;  // an aborted commit is produced again this often
  static constexpr std::uint64_t no_limit = std::numeric_limits<std::uint64_t>::max();
  /// The second producer's transactional.id is the sink's with this suffix; both share the marker group.
  static constexpr const char* second_id_suffix = ".1";
  /// The sink thread produces at least this many records per hold of the lock before it lets a waiting write() in
  /// (about half a millisecond): fewer, and a steady stream of writes would leave it too little time to keep up.
  static constexpr std::size_t records_per_hold = 512;

  explicit KafkaSinkCore(KafkaSinkConfig config)
      : config_(std::move(config)), budget_(config_.max_buffered_bytes) {
    identity = "kafka_sink '" + config_.name + "'";
  }

  ~KafkaSinkCore() {
    for (auto& producer : producers_) {
      if (producer.topic != nullptr) {
        rd_kafka_topic_destroy(producer.topic);
      }
    }
  }

  KafkaSinkCore(const KafkaSinkCore&) = delete;
  KafkaSinkCore& operator=(const KafkaSinkCore&) = delete;

  [[nodiscard]] bool transactional() const { return !config_.transactional_id.empty(); }

  /// Creates the producer (throws core::Error on a bad setting) and, transactional, queues init_transactions.
  /// The caller then starts the thread (run()).
  void start();

  /// io::Sink's calls of the same names (sink.hpp), from any thread: write(), flush(), prepare() and abort() switch
  /// state at once under the lock; the blocking work runs on the sink's thread, in call order.
  void write(RecordBatch&& batch);
  void flush(std::function<void(std::string)> done);
  void prepare(std::uint64_t checkpoint, Sink::PreparedCheckpoint done);
  void commit(std::uint64_t checkpoint, Sink::Done done);
  void abort();
  void recover(std::uint64_t checkpoint, std::vector<RecordBatch> records, std::string location, Sink::Done done);
  void hand_off(Sink::Prepared done);
  void stop(std::function<void()> on_stopped);

  /// The handle is going away without waiting for deliveries: give up on what is queued.
  void abandon();

  /// Never started: nothing to deliver.
  void mark_stopped();

  /// The sink thread's body.
  void run();

  [[nodiscard]] core::ByteBudget& budget() { return budget_; }
  /// Fewer than config.max_queued_records records wait to be handed to librdkafka. Any thread, no lock.
  [[nodiscard]] bool has_queue_room() const {
    return queued_records_.load(std::memory_order_relaxed) < config_.max_queued_records;
  }
  /// What was given up on, plus what librdkafka still holds while the stop has not finished: the worker reads this
  /// at its drain deadline, which may come before the stop's callback (brokers unreachable: librdkafka would retry
  /// for message.timeout.ms).
  [[nodiscard]] std::size_t undelivered_bytes() const;
  [[nodiscard]] std::string undelivered_reason() const;
  [[nodiscard]] bool failed() const;

 private:
  void post(std::function<void()> task);

  void run_tasks();

  /// What produce_queued() left.
  enum class Produced {
    all,      ///< nothing it may produce now
    full,     ///< librdkafka's queue is full: the thread polls and retries
    yielded,  ///< stopped early for a caller waiting for the lock (lock_as_writer): the thread lets it in, goes on
  };
  /// Hands queued records to librdkafka, in order, while a transaction (if any) may take them. Called with mutex_
  /// held. `yield` (the sink thread's calls): stop when a caller waits in lock_as_writer(), after records_per_hold.
  /// Without it, the backlog a prepare's switch releases (up to config.max_queued_records) would be produced under the
  /// lock, and the executor, whose write() needs that lock, would stand still for its whole length.
  Produced produce_queued(bool yield = false);

  /// mutex_, taken by a caller from outside the sink's thread (write(), flush(), prepare(), post()): counted in
  /// writers_waiting_ while it waits, so that the sink thread's produce_queued() lets it in.
  std::unique_lock<std::mutex> lock_as_writer();

  /// After a yielded produce_queued(), with mutex_ released: waits (at most about a millisecond) until the waiting
  /// write()s took the lock.
  void let_writers_in() const;

  /// A delivery report (the sink thread, inside rd_kafka_poll or a transactional call): its offset goes into its
  /// producer's `written`; the rest is only noted here, applied under the lock once per poll.
  void on_delivery(rd_kafka_t* client, const rd_kafka_message_t& message);

  void apply_deliveries();

  /// `count` records of batch `id` are done with (delivered or given up on). Called with mutex_ held.
  void record_done(std::uint64_t id, std::size_t count = 1);

  std::vector<FlushWaiter> take_ready_flushes();

  void on_client_error(rd_kafka_t* client, rd_kafka_resp_err_t error, const char* reason);

  /// The sink cannot go on (fenced, or another fatal error): one line; writes are counted as undelivered from now.
  void fail(const std::string& cause, bool fenced);

  void fail_locked(const std::string& cause, bool fenced);

  [[nodiscard]] std::string failure_line() const;
  [[nodiscard]] std::string cause_suffix() const { return "topic '" + config_.topic + "'"; }

  /// Discards both producers' kept records (a held prepared transaction's too) and the queued ones, releasing their
  /// budget. Called with mutex_ held, on the sink thread (or once it stopped).
  void drop_uncommitted();
  /// Discards the queued records (not yet produced) and the cuts among them, releasing their budget. Called with
  /// mutex_ held.
  void drop_queued();

  /// A record of batch `id` is lost: the flushes waiting for that batch (or the next flush) report it. Called with
  /// mutex_ held.
  void note_lost(std::uint64_t id, const std::string& cause);

  void count_undelivered(std::size_t bytes, const std::string& reason);
  /// Bytes of batches not delivered yet (at-least-once; a transaction's count at the stop). Called with mutex_ held.
  [[nodiscard]] std::size_t still_in_flight() const;

  void warn_throttled(Clock::time_point& last, const std::string& line);

  // ---- transactions (the sink thread) ----

  /// Reports a failed transactional step: fatal ones fail the sink. Returns the line for the caller's `done`.
  std::string report(const char* step, std::uint64_t checkpoint, const KafkaTransactionResult& result);

  /// Creates one producer; `transactional_id` empty: without transactions.
  void make_producer(TransactionalProducer& producer, const std::string& transactional_id);

  /// The producer that produces now, and the other one (holding a prepared transaction, or idle). active_ changes
  /// on the sink thread under mutex_ only.
  TransactionalProducer& active() { return producers_[active_]; }
  TransactionalProducer& other() { return producers_[1 - active_]; }

  /// Both producers' init_transactions (fencing earlier instances of either id), each retried (one line) until it
  /// succeeds, fails for good, or the sink stops; then the first opens a transaction.
  void initialize();
  bool initialize(TransactionalProducer& producer, bool& warned);

  /// Before the active transaction aborts to be produced again: nothing is produced until begin(), and a batch the
  /// thread had begun to produce (yielded midway) starts again from its first record, since those went into the
  /// transaction that aborts. Called with mutex_ held.
  void suspend_for_abort();

  /// Aborts `producer`'s open transaction (its kept batches stay), if it has one.
  KafkaTransactionResult abort_open(TransactionalProducer& producer, std::chrono::milliseconds timeout);

  /// Before `producer` begins a transaction (none is open, nothing of it in flight): serves the delivery reports
  /// its last one left, so that none is taken for the new one's, and starts counting the new one's records.
  void start_counting(TransactionalProducer& producer);

  /// Opens the active producer's next transaction; the thread then produces what waits in the queue, unless
  /// `produce_queue` is false: the caller first produces the kept batches again, then calls open_queue().
  bool begin(bool produce_queue = true);
  /// The queue may be produced into the active transaction (not while an abort() waits for run_abort).
  void open_queue();

  /// Before prepare(n) uses the other producer: a transaction it still holds is settled. A complete checkpoint's
  /// whose commit failed is committed now; a given-up checkpoint's records move into the active transaction, ahead
  /// of its own (both aborted and produced again, in write order). Returns the line of a failure ("" when settled).
  std::string settle_other(std::uint64_t checkpoint);

  /// After prepare(n) flushed the active transaction: the other producer opens n+1's, and the active one holds n's.
  void switch_producers(std::uint64_t checkpoint);

  /// Commits the other producer's prepared transaction of `checkpoint`, producing it again after an abort (the
  /// active transaction is aborted and reopened behind it, so that the output's order holds).
  KafkaTransactionResult commit_other(std::uint64_t checkpoint);
  /// The other producer's transaction of `checkpoint` committed: its records and budget are released.
  void committed_other(std::uint64_t checkpoint);

  /// Polls both producers: the active one for up to `timeout`.
  void poll(std::chrono::milliseconds timeout);

  /// Produces every queued record below the produce limit, polling while librdkafka's queue is full.
  void produce_all();

  void run_prepare(std::uint64_t checkpoint, const Sink::PreparedCheckpoint& done);
  /// What checkpoint `checkpoint` keeps of the active transaction (flushed): where its records landed, or, when the
  /// delivery reports do not account for every record, the records themselves.
  [[nodiscard]] Sink::CheckpointOutput checkpoint_output(std::uint64_t checkpoint);

  void run_commit(std::uint64_t checkpoint, const Sink::Done& done);

  /// After an aborted commit: aborts, then writes the transaction's records and marker again and commits.
  KafkaTransactionResult produce_again(TransactionalProducer& producer, std::uint64_t checkpoint);

  /// After an abortable error the sink gave up on: aborts the active transaction, begins a new one and produces the
  /// aborted one's kept records into it again, so that the next prepare (or the checkpoint's recovery) still covers
  /// them.
  void reopen();

  /// Produces `batch` with `producer` outside the write queue (a recovery, or a commit produced again).
  void produce_records(TransactionalProducer& producer, const RecordBatch& batch);
  /// `producer`'s kept batches, produced again into its new transaction (after an abort).
  void produce_kept(TransactionalProducer& producer);

  void run_abort();
  /// Aborts both producers' open transactions; a failure fails the sink (false).
  bool abort_both();

  void run_hand_off(const Sink::Prepared& done);

  /// `records` (a checkpoint written by a Roo that kept the records) or `location` (KafkaWrittenOffsets, read back).
  void run_recover(std::uint64_t checkpoint, std::vector<RecordBatch> records, const std::string& location,
                   const Sink::Done& done);

  /// After stop(): delivers what is queued (at-least-once) or aborts what is not committed (transactional), closes.
  void finish();

  KafkaSinkConfig config_;
  core::ByteBudget budget_;
  std::array<TransactionalProducer, 2> producers_;  // the second only with transactions
  std::size_t active_ = 0;                          // see active()

  // The sink thread's own.
  std::vector<std::pair<std::uint64_t, std::size_t>> delivered_;  // (batch id, records) reported since the last poll
  std::atomic<bool> abandoned_{false};
  bool initialized_ = false;  // init_transactions succeeded
  /// A commit asked for that did not succeed (retried by the next prepare): hand_off() refuses while it is not settled.
  std::optional<std::uint64_t> unsettled_commit_;

  mutable std::mutex mutex_;
  std::atomic<int> writers_waiting_{0};  ///< lock_as_writer() calls waiting for mutex_ (see produce_queued)
  std::deque<Queued> queue_;
  std::atomic<std::size_t> queued_records_{0};  ///< records of the batches in queue_ (written under mutex_)
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, InFlight> in_flight_;
  std::vector<FlushWaiter> flush_waiters_;
  std::string unreported_failure_;  // a lost record no flush() answered for yet
  std::deque<std::function<void()>> tasks_;
  bool open_ = false;  // records may be produced (transactional: the active producer's transaction is open)
  /// abort() was called and run_abort has not run yet: nothing is produced until it has (the tasks before it may
  /// begin transactions; what they would take from the queue is the new run's output).
  bool abort_pending_ = false;
  /// After prepare(): batches from this id on wait until the producers switched (for the next transaction).
  std::uint64_t produce_limit_ = no_limit;
  /// (checkpoint, the first batch id after its cut) of each prepare() whose producers have not switched yet, oldest
  /// first.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> cuts_;
  std::optional<std::uint64_t> last_committed_;
  std::atomic<bool> failed_{false};  ///< written under mutex_; failed() reads it without (the executor asks often)
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

}  // namespace roo::io
