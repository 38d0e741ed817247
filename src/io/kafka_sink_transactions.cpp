#include "kafka_sink_core.hpp"

#include "io_log.hpp"
#include "kafka_record_producer.hpp"

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
  KafkaTransactionResult swept = transaction_->abort_leftovers(transaction_timeout);
  apply_deliveries();
  if (!swept.ok()) {
    fail("cannot abort what an earlier process left pending in the topic: " + swept.text, swept.fenced);
    return;
  }
  initialized_ = true;
  (void)begin();
}

bool KafkaSinkCore::begin() {
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
    rd_kafka_poll(producer_.get(), kafka_timeout(busy_poll));
    apply_deliveries();
  }
}

void KafkaSinkCore::run_prepare(std::uint64_t checkpoint, const Sink::Prepared& done) {
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
    std::string line = report("prepare", checkpoint, result);
    if (result.kind == KafkaTransactionResult::Kind::abortable) {
      reopen();
    }
    done(line, {});
    return;
  }
  Sink::SharedBatches records;
  {
    std::lock_guard lock(mutex_);
    records = txn_batches_;  // shared, not copied: ours stay for a commit that must be produced again
  }
  done({}, std::move(records));
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
    } else if (cuts_.empty() || cuts_.front().first != checkpoint) {
      answer = fmt::format("{}: cannot commit checkpoint {}: it was not prepared", identity, checkpoint);
    } else {
      open_ = false;
    }
  }
  if (answer) {
    done(*answer);
    return;
  }
  KafkaTransactionResult result = transaction_->commit(transaction_timeout);
  for (int attempt = 1; result.kind == KafkaTransactionResult::Kind::abortable && attempt < commit_attempts;
       ++attempt) {
    io_logger()->warn("{}: the transaction of checkpoint {} was aborted ({}); producing it again", identity,
                      checkpoint, result.text);
    result = produce_again(checkpoint);
  }
  apply_deliveries();
  if (!result.ok()) {
    unsettled_commit_ = checkpoint;
    std::string line = report("commit", checkpoint, result);
    if (result.kind == KafkaTransactionResult::Kind::abortable) {
      reopen();
    } else if (!failed()) {
      std::lock_guard lock(mutex_);
      open_ = true;  // still the same transaction: a later commit(n) tries again
    }
    done(line);
    return;
  }
  in_transaction_ = false;
  unsettled_commit_.reset();
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

KafkaTransactionResult KafkaSinkCore::produce_again(std::uint64_t checkpoint) {
  KafkaTransactionResult result = transaction_->abort(transaction_timeout);
  if (!result.ok()) {
    return result;
  }
  result = transaction_->begin();
  if (!result.ok()) {
    return result;
  }
  produce_kept();
  result = transaction_->mark(checkpoint, transaction_timeout);
  return result.ok() ? transaction_->commit(transaction_timeout) : result;
}

void KafkaSinkCore::produce_records(const RecordBatch& batch) {
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

void KafkaSinkCore::produce_kept() {
  Sink::SharedBatches batches;
  {
    std::lock_guard lock(mutex_);
    batches = txn_batches_;
  }
  for (const auto& batch : batches) {
    produce_records(*batch);
  }
}

void KafkaSinkCore::run_abort() {
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
    records = txn_batches_;
    for (auto& queued : queue_) {
      records.push_back(std::make_shared<const RecordBatch>(std::move(queued.batch)));
    }
    drop_uncommitted();
    open_ = false;
  }
  in_transaction_ = false;
  KafkaTransactionResult result = transaction_->abort(transaction_timeout);
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

void KafkaSinkCore::run_recover(std::uint64_t checkpoint, const std::vector<RecordBatch>& records,
                                const Sink::Done& done) {
  if (failed()) {
    done(failure_line());
    return;
  }
  std::string error;
  std::optional<std::uint64_t> committed;
  try {
    committed = transaction_->read_committed_checkpoint(transaction_timeout, error);
  } catch (const std::exception& failure) {  // the marker reader's settings (core::Error)
    error = failure.what();
  }
  if (!committed) {
    done(fmt::format("{}: cannot read which checkpoint committed last (group '{}'): {}", identity,
                     transaction_->marker_group(), error));
    return;
  }
  if (*committed >= checkpoint) {
    io_logger()->info("{}: checkpoint {} was committed before the restart", identity, checkpoint);
  } else {
    for (const auto& batch : records) {
      produce_records(batch);
    }
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
  unsettled_commit_.reset();
  {
    std::lock_guard lock(mutex_);
    last_committed_ = checkpoint;
  }
  done({});
}

void KafkaSinkCore::reopen() {
  (void)transaction_->abort(transaction_timeout);
  in_transaction_ = false;
  if (!begin()) {
    return;
  }
  produce_kept();
  apply_deliveries();
}

}  // namespace roo::io
