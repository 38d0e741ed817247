#include "io_log.hpp"
#include "kafka_record_producer.hpp"
#include "kafka_sink_core.hpp"
#include "kafka_written_records.hpp"

#include "roo/core/error.hpp"

#include <thread>

namespace roo::io {

// The Kafka sink's transactional steps, run in order on the sink's thread (kafka_sink_core.hpp, src/io/README.md).

std::string KafkaSinkCore::report(const char* step, std::uint64_t checkpoint, const KafkaTransactionResult& result) {
  if (result.kind == KafkaTransactionResult::Kind::fatal) {
    fail(result.text, result.fenced);
    return failure_line();
  }
  std::string line = fmt::format("{}: cannot {} the transaction of checkpoint {}: {}", identity, step, checkpoint,
                                 result.text);
  io_logger()->warn("{}", line);
  return line;
}

void KafkaSinkCore::initialize() {
  bool warned = false;
  for (auto& producer : producers_) {
    if (!initialize(producer, warned)) {
      return;
    }
  }
  initialized_ = true;
  (void)begin();
}

bool KafkaSinkCore::initialize(TransactionalProducer& producer, bool& warned) {
  for (;;) {
    KafkaTransactionResult result = producer.transaction->init(transaction_timeout);
    if (result.ok()) {
      break;
    }
    if (result.kind == KafkaTransactionResult::Kind::fatal) {
      fail("cannot initialize transactions: " + result.text, result.fenced);
      return false;
    }
    if (!warned) {
      warned = true;
      io_logger()->warn("{}: cannot initialize transactions ({}); retrying", identity, result.text);
    }
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return false;
    }
  }
  KafkaTransactionResult swept = producer.transaction->abort_leftovers(transaction_timeout);
  apply_deliveries();
  if (!swept.ok()) {
    fail("cannot abort what an earlier process left pending in the topic: " + swept.text, swept.fenced);
    return false;
  }
  return true;
}

void KafkaSinkCore::start_counting(TransactionalProducer& producer) {
  // The last transaction committed (its commit flushed) or aborted (which waits for what was in flight): all that
  // may be left is reports not yet served, each of which leaves the out queue once served.
  for (int i = 0; i < 100 && rd_kafka_outq_len(producer.producer.get()) > 0; ++i) {
    rd_kafka_poll(producer.producer.get(), 10);
  }
  apply_deliveries();
  std::lock_guard lock(mutex_);
  producer.produced = 0;
  producer.written.clear();
}

bool KafkaSinkCore::begin(bool produce_queue) {
  start_counting(active());
  KafkaTransactionResult result = active().transaction->begin();
  if (!result.ok()) {
    fail("cannot begin a transaction: " + result.text, result.fenced);
    return false;
  }
  active().in_transaction = true;
  if (produce_queue) {
    open_queue();
  }
  return true;
}

void KafkaSinkCore::open_queue() {
  std::lock_guard lock(mutex_);
  open_ = !abort_pending_ && active().in_transaction;
}

KafkaTransactionResult KafkaSinkCore::abort_open(TransactionalProducer& producer, std::chrono::milliseconds timeout) {
  if (!producer.in_transaction) {
    return {};
  }
  KafkaTransactionResult result = producer.transaction->abort(timeout);
  if (result.ok()) {
    producer.in_transaction = false;  // otherwise still open: a later abort tries again
  }
  return result;
}

void KafkaSinkCore::produce_all() {
  for (;;) {
    Produced produced = Produced::all;
    {
      std::lock_guard lock(mutex_);
      produced = produce_queued(true);
    }
    if (produced == Produced::all) {
      return;
    }
    if (produced == Produced::yielded) {
      let_writers_in();
      continue;
    }
    poll(busy_poll);
    apply_deliveries();
  }
}

void KafkaSinkCore::run_prepare(std::uint64_t checkpoint, const Sink::PreparedCheckpoint& done) {
  if (failed()) {
    done(failure_line(), {});
    return;
  }
  if (std::string line = settle_other(checkpoint); !line.empty()) {
    done(line, {});
    return;
  }
  {
    // Older checkpoints whose prepare failed share this one's transaction.
    std::lock_guard lock(mutex_);
    while (!cuts_.empty() && cuts_.front().first < checkpoint) {
      cuts_.pop_front();
    }
    if (!cuts_.empty() && cuts_.front().first == checkpoint) {
      produce_limit_ = cuts_.front().second;
    }
  }
  produce_all();
  KafkaTransactionResult result = active().transaction->mark(checkpoint, transaction_timeout);
  if (result.ok()) {
    rd_kafka_resp_err_t flushed = rd_kafka_flush(active().producer.get(), kafka_timeout(transaction_timeout));
    apply_deliveries();
    if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = KafkaTransactionResult{.kind = KafkaTransactionResult::Kind::retriable,
                                      .text = kafka_error_text(flushed)};
    }
  }
  if (!result.ok()) {
    std::string line = report("prepare", checkpoint, result);
    if (result.kind == KafkaTransactionResult::Kind::abortable) {
      reopen();
    }
    done(line, {});
    return;
  }
  Sink::CheckpointOutput output = checkpoint_output(checkpoint);
  switch_producers(checkpoint);
  if (failed()) {
    done(failure_line(), {});
    return;
  }
  done({}, std::move(output));
}

Sink::CheckpointOutput KafkaSinkCore::checkpoint_output(std::uint64_t checkpoint) {
  std::lock_guard lock(mutex_);
  TransactionalProducer& producer = active();
  if (producer.written.records() == producer.produced && producer.written.increasing()) {
    // The usual case: the checkpoint keeps a few bytes per partition instead of a copy of its output.
    return {.records = {}, .location = producer.written.encode(config_.topic)};
  }
  // A record failed (the commit will abort and produce the transaction again), or a report went astray: the
  // checkpoint keeps the records themselves. Shared, not copied: ours stay for a commit produced again.
  io_logger()->debug("{}: checkpoint {} keeps its {} records themselves ({} delivery reports with an offset)", identity,
                     checkpoint, producer.produced, producer.written.records());
  return {.records = producer.batches, .location = {}};
}

std::string KafkaSinkCore::settle_other(std::uint64_t checkpoint) {
  TransactionalProducer& held = other();
  if (!held.prepared) {
    return {};
  }
  std::uint64_t earlier = *held.prepared;
  if (unsettled_commit_ == earlier) {
    // Checkpoint `earlier` is complete but its commit failed: it commits before anything after it can.
    KafkaTransactionResult result = commit_other(earlier);
    apply_deliveries();
    if (!result.ok()) {
      return report("commit", earlier, result);
    }
    committed_other(earlier);
    return {};
  }
  // Checkpoint `earlier` was given up (no commit came): its records belong to checkpoint `checkpoint` too. They go
  // ahead of the active transaction's in a new one, so that each partition keeps the order they were written in.
  {
    std::lock_guard lock(mutex_);
    suspend_for_abort();
  }
  KafkaTransactionResult result = abort_open(held, transaction_timeout);
  if (result.ok()) {
    result = abort_open(active(), transaction_timeout);
  }
  apply_deliveries();
  if (!result.ok()) {
    return report("abort", earlier, result);
  }
  {
    std::lock_guard lock(mutex_);
    held.batches.insert(held.batches.end(), active().batches.begin(), active().batches.end());
    active().batches = std::move(held.batches);
    active().bytes += std::exchange(held.bytes, 0);
    held.batches.clear();
    held.prepared.reset();
  }
  io_logger()->debug("{}: checkpoint {} was given up; its output goes with checkpoint {}", identity, earlier,
                     checkpoint);
  if (!begin(false)) {
    return failure_line();
  }
  produce_kept(active());  // before the queue, which was written after these
  open_queue();
  apply_deliveries();
  return {};
}

void KafkaSinkCore::switch_producers(std::uint64_t checkpoint) {
  {
    std::lock_guard lock(mutex_);
    active().prepared = checkpoint;
    if (!cuts_.empty() && cuts_.front().first == checkpoint) {
      cuts_.pop_front();
    }
    active_ = 1 - active_;
    open_ = false;  // until the new active producer began its transaction
    produce_limit_ = cuts_.empty() ? no_limit : cuts_.front().second;
  }
  (void)begin();
}

void KafkaSinkCore::run_commit(std::uint64_t checkpoint, const Sink::Done& done) {
  if (failed()) {
    done(failure_line());
    return;
  }
  std::optional<std::string> answer;
  {
    std::lock_guard lock(mutex_);
    if (last_committed_ && *last_committed_ >= checkpoint) {
      answer = "";
    } else if (other().prepared != checkpoint) {
      answer = fmt::format("{}: cannot commit checkpoint {}: it was not prepared", identity, checkpoint);
    }
  }
  if (answer) {
    done(*answer);
    return;
  }
  KafkaTransactionResult result = commit_other(checkpoint);
  apply_deliveries();
  if (!result.ok()) {
    unsettled_commit_ = checkpoint;  // the next prepare commits it again, before anything else
    done(report("commit", checkpoint, result));
    return;
  }
  committed_other(checkpoint);
  io_logger()->debug("{}: committed the transaction of checkpoint {}", identity, checkpoint);
  done({});
}

KafkaTransactionResult KafkaSinkCore::commit_other(std::uint64_t checkpoint) {
  TransactionalProducer& held = other();
  KafkaTransactionResult result{.kind = KafkaTransactionResult::Kind::abortable,
                                .text = "aborted by an earlier commit's failure"};
  if (held.in_transaction) {
    result = held.transaction->commit(transaction_timeout);
  }
  if (result.kind != KafkaTransactionResult::Kind::abortable) {
    if (result.ok()) {
      held.in_transaction = false;
    }
    return result;
  }
  // Produced again, the held records land behind the active transaction's in each partition: that one is aborted
  // first and produced again behind them, so that a read_committed reader sees the output in the order written.
  {
    std::lock_guard lock(mutex_);
    suspend_for_abort();
  }
  KafkaTransactionResult aborted = abort_open(active(), transaction_timeout);
  if (!aborted.ok()) {
    return aborted;
  }
  for (int attempt = 1; result.kind == KafkaTransactionResult::Kind::abortable && attempt < commit_attempts;
       ++attempt) {
    io_logger()->warn("{}: the transaction of checkpoint {} was aborted ({}); producing it again", identity, checkpoint,
                      result.text);
    result = produce_again(held, checkpoint);
  }
  if (begin(false)) {
    produce_kept(active());
    open_queue();
  }
  return result;
}

void KafkaSinkCore::committed_other(std::uint64_t checkpoint) {
  unsettled_commit_.reset();
  std::lock_guard lock(mutex_);
  TransactionalProducer& held = other();
  budget_.release(held.bytes);
  held.bytes = 0;
  held.batches.clear();
  held.prepared.reset();
  last_committed_ = checkpoint;
}

KafkaTransactionResult KafkaSinkCore::produce_again(TransactionalProducer& producer, std::uint64_t checkpoint) {
  KafkaTransactionResult result = abort_open(producer, transaction_timeout);
  if (!result.ok()) {
    return result;
  }
  start_counting(producer);
  result = producer.transaction->begin();
  if (!result.ok()) {
    return result;
  }
  producer.in_transaction = true;
  produce_kept(producer);
  result = producer.transaction->mark(checkpoint, transaction_timeout);
  if (result.ok()) {
    result = producer.transaction->commit(transaction_timeout);
  }
  if (result.ok()) {
    producer.in_transaction = false;
  }
  return result;
}

void KafkaSinkCore::produce_records(TransactionalProducer& producer, const RecordBatch& batch) {
  std::uint64_t produced = 0;
  for (std::size_t i = 0; i < record_count(batch); ++i) {
    if (record_size(batch, i) > config_.max_message_size) {
      continue;  // counted when it was first written
    }
    rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR__QUEUE_FULL;
    while ((result = produce_record(producer.producer.get(), producer.topic, batch, i,
                                    reinterpret_cast<void*>(no_limit))) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer.producer.get(), kafka_timeout(busy_poll));  // its queue is the full one
      apply_deliveries();
    }
    produced += result == RD_KAFKA_RESP_ERR_NO_ERROR ? 1 : 0;
  }
  std::lock_guard lock(mutex_);
  producer.produced += produced;
}

void KafkaSinkCore::produce_kept(TransactionalProducer& producer) {
  Sink::SharedBatches batches;
  {
    std::lock_guard lock(mutex_);
    batches = producer.batches;
  }
  for (const auto& batch : batches) {
    produce_records(producer, *batch);
  }
}

void KafkaSinkCore::run_abort() {
  {
    // Here, not in abort(): a step that ran before this one (a prepare or commit posted earlier) used these batches.
    std::lock_guard lock(mutex_);
    drop_uncommitted();
    open_ = false;
  }
  bool aborted = !failed() && initialized_ && abort_both();
  {
    std::lock_guard lock(mutex_);
    abort_pending_ = false;
  }
  if (aborted) {
    (void)begin();
  }
}

bool KafkaSinkCore::abort_both() {
  for (auto& producer : producers_) {
    KafkaTransactionResult result = abort_open(producer, transaction_timeout);
    apply_deliveries();
    if (!result.ok()) {
      // A transaction of the run rolled back stays open: committing anything with it later would make that run's
      // output visible. The sink stops; the worker's restart fences and aborts it.
      fail("cannot abort the transactions of a rollback: " + result.text, result.fenced);
      return false;
    }
  }
  return true;
}

void KafkaSinkCore::run_hand_off(const Sink::Prepared& done) {
  if (failed()) {
    done(failure_line(), {});
    return;
  }
  if (unsettled_commit_) {
    // Its checkpoint is complete, but whether the broker committed it is not known: handed to another worker, it
    // could be visible twice. The caller stops this worker, and the recovery settles it (run_recover).
    done(fmt::format("{}: the commit of checkpoint {} did not succeed", identity, *unsettled_commit_), {});
    return;
  }
  Sink::SharedBatches records;
  {
    // On the thread, after the tasks posted before (a commit asked for earlier has run): what is left belongs to no
    // complete checkpoint (a prepared one whose commit never came was given up).
    std::lock_guard lock(mutex_);
    records = other().batches;  // a given-up checkpoint's, older than the active transaction's
    records.insert(records.end(), active().batches.begin(), active().batches.end());
    for (auto& queued : queue_) {
      records.push_back(std::make_shared<const RecordBatch>(std::move(queued.batch)));
    }
    drop_uncommitted();
    open_ = false;
  }
  KafkaTransactionResult result = abort_open(other(), transaction_timeout);
  if (result.ok()) {
    result = abort_open(active(), transaction_timeout);
  }
  apply_deliveries();
  if (!result.ok()) {
    // The records must not go on while this transaction might still commit them (a restart's fencing aborts it).
    done(report("abort", last_committed_.value_or(0) + 1, result), {});
    return;
  }
  io_logger()->info("{}: handed {} uncommitted batches to a worker that stays, and aborted their transaction",
                    identity, records.size());
  (void)begin();
  done({}, std::move(records));
}

void KafkaSinkCore::run_recover(std::uint64_t checkpoint, std::vector<RecordBatch> records, const std::string& location,
                                const Sink::Done& done) {
  if (failed()) {
    done(failure_line());
    return;
  }
  std::string error;
  std::optional<std::uint64_t> committed;
  try {
    committed = active().transaction->read_committed_checkpoint(transaction_timeout, error);
  } catch (const std::exception& failure) {  // the marker reader's settings (core::Error)
    error = failure.what();
  }
  if (!committed) {
    done(fmt::format("{}: cannot read which checkpoint committed last (group '{}'): {}", identity,
                     active().transaction->marker_group(), error));
    return;
  }
  if (*committed >= checkpoint) {
    io_logger()->info("{}: checkpoint {} was committed before the restart", identity, checkpoint);
  } else {
    if (!location.empty()) {
      try {
        KafkaWrittenOffsets offsets = KafkaWrittenOffsets::decode(location);
        if (offsets.topic() != config_.topic) {
          throw core::Error(fmt::format("its records went to topic '{}', and this sink writes topic '{}'",
                                        offsets.topic(), config_.topic));
        }
        records = read_written_records(identity, config_.brokers, config_.properties, offsets, transaction_timeout);
      } catch (const std::exception& failure) {  // core::Error, or out of memory
        done(
            fmt::format("{}: cannot commit checkpoint {} after the restart: {}", identity, checkpoint, failure.what()));
        return;
      }
    }
    for (const auto& batch : records) {
      produce_records(active(), batch);
    }
    KafkaTransactionResult result = active().transaction->mark(checkpoint, transaction_timeout);
    if (result.ok()) {
      result = active().transaction->commit(transaction_timeout);
    }
    if (result.ok()) {
      active().in_transaction = false;
    }
    apply_deliveries();
    if (!result.ok()) {
      done(report("commit", checkpoint, result));
      return;
    }
    std::size_t count = 0;
    for (const auto& batch : records) {
      count += record_count(batch);
    }
    io_logger()->info("{}: committed checkpoint {} again after the restart ({} records{})", identity, checkpoint, count,
                      location.empty() ? " kept in the checkpoint" : " read back from the topic");
    if (!begin()) {
      done(failure_line());
      return;
    }
  }
  unsettled_commit_.reset();
  {
    std::lock_guard lock(mutex_);
    last_committed_ = checkpoint;
  }
  done({});
}

void KafkaSinkCore::suspend_for_abort() {
  open_ = false;
  if (!queue_.empty()) {
    queue_.front().next = 0;  // its first records went into the transaction about to abort: all are produced again
  }
}

void KafkaSinkCore::reopen() {
  {
    std::lock_guard lock(mutex_);
    suspend_for_abort();
  }
  (void)abort_open(active(), transaction_timeout);
  if (active().in_transaction || !begin(false)) {
    return;  // the abort failed: the next prepare's settling, or a rollback, aborts again
  }
  produce_kept(active());
  open_queue();
  apply_deliveries();
}

}  // namespace roo::io
