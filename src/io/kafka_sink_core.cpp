#include "kafka_sink_core.hpp"

#include "io_log.hpp"
#include "kafka_record_producer.hpp"

#include "roo/core/error.hpp"

#include <thread>
#include <utility>

namespace roo::io {

// The Kafka sink's core: setup, the write queue, the thread, failure and stop (kafka_sink_core.hpp).

void KafkaSinkCore::start() {
  if (config_.topic.empty()) {
    throw core::UsageError("write to Kafka for sink '" + config_.name + "': no topic given");
  }
  make_producer(producers_[0], config_.transactional_id);
  if (transactional()) {
    make_producer(producers_[1], config_.transactional_id + second_id_suffix);
    post([this] { initialize(); });
  } else {
    std::lock_guard lock(mutex_);
    open_ = true;
  }
  io_logger()->info("{}: producing to topic '{}' at {}{}", identity, config_.topic, config_.brokers,
                    transactional() ? " in transactions as '" + config_.transactional_id + "' and '" +
                                          config_.transactional_id + second_id_suffix + "'"
                                    : "");
}

void KafkaSinkCore::make_producer(TransactionalProducer& producer, const std::string& transactional_id) {
  KafkaProperties own = {{"linger.ms", std::to_string(config_.linger.count())},
                         {"socket.nagle.disable", "true"},
                         {"enable.idempotence", "true"}};
  if (config_.max_message_size + 4096 > 1000000) {
    own.emplace_back("message.max.bytes", std::to_string(config_.max_message_size + 4096));
  }
  if (!transactional_id.empty()) {
    own.emplace_back("transactional.id", transactional_id);
  }
  KafkaConf conf = make_kafka_client_config(*this, config_.brokers, own, config_.properties);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), [](rd_kafka_t* client, const rd_kafka_message_t* message, void* opaque) {
    static_cast<KafkaSinkCore*>(static_cast<KafkaClientIdentity*>(opaque))->on_delivery(client, *message);
  });
  rd_kafka_conf_set_error_cb(conf.get(), [](rd_kafka_t* client, int error, const char* reason, void* opaque) {
    static_cast<KafkaSinkCore*>(static_cast<KafkaClientIdentity*>(opaque))
        ->on_client_error(client, static_cast<rd_kafka_resp_err_t>(error), reason);
  });
  producer.producer = make_kafka_client(RD_KAFKA_PRODUCER, std::move(conf), identity);
  producer.topic = rd_kafka_topic_new(producer.producer.get(), config_.topic.c_str(), nullptr);
  producer.main_queue = rd_kafka_queue_get_main(producer.producer.get());
  if (!transactional_id.empty()) {
    // Both producers mark their commits in the first id's group, so that the newest marker names the checkpoint
    // that committed last, whichever producer committed it.
    producer.transaction.emplace(producer.producer.get(), config_.transactional_id + ".commits", config_.topic,
                                 config_.brokers, config_.properties);
  }
}

void KafkaSinkCore::write(RecordBatch&& batch) {
  std::size_t bytes = batch.size_bytes();
  std::size_t records = record_count(batch);
  if (records == 0) {
    return;
  }
  budget_.add(bytes);
  std::unique_lock lock = lock_as_writer();
  if (failed_ || stopping_) {
    count_undelivered(bytes, failed_ ? failure_ : "written after the sink stopped");
    budget_.release(bytes);
    return;
  }
  std::uint64_t id = next_id_++;
  in_flight_[id] = InFlight{.records_left = records, .bytes = transactional() ? 0 : bytes};
  queue_.push_back(Queued{.batch = std::move(batch), .next = 0, .id = id, .bytes = bytes});
  queued_records_.store(queued_records_.load(std::memory_order_relaxed) + records, std::memory_order_relaxed);
  if (queue_.size() == 1 && produce_queued() == Produced::full && active().main_queue != nullptr) {
    rd_kafka_queue_yield(active().main_queue);  // the thread retries sooner than its idle poll
  }
}

void KafkaSinkCore::flush(std::function<void(std::string)> done) {
  std::unique_lock lock = lock_as_writer();
  std::uint64_t upto = next_id_;
  std::string error = failed_ ? failure_line() : std::exchange(unreported_failure_, {});
  if (failed_ || in_flight_.empty() || in_flight_.begin()->first >= upto) {
    lock.unlock();
    done(error);
    return;
  }
  flush_waiters_.push_back(FlushWaiter{.upto = upto, .done = std::move(done), .error = std::move(error)});
}

void KafkaSinkCore::prepare(std::uint64_t checkpoint, Sink::PreparedCheckpoint done) {
  {
    std::unique_lock lock = lock_as_writer();
    // What is written from now on waits until the sink thread prepared n and switched producers. A checkpoint may be
    // prepared before an earlier prepare ran (tasks_ is behind): the limit then stays at the earlier cut until that
    // prepare ran, so that each transaction holds its checkpoint's output only.
    cuts_.emplace_back(checkpoint, next_id_);
    if (cuts_.size() == 1) {
      produce_limit_ = next_id_;
    }
  }
  post([this, checkpoint, done = std::move(done)] { run_prepare(checkpoint, done); });
}

void KafkaSinkCore::commit(std::uint64_t checkpoint, Sink::Done done) {
  post([this, checkpoint, done = std::move(done)] { run_commit(checkpoint, done); });
}

void KafkaSinkCore::abort() {
  {
    // The producers' kept records are the sink thread's to drop (run_abort): a step running there may be using them.
    std::lock_guard lock(mutex_);
    drop_queued();
    open_ = false;
    abort_pending_ = true;
  }
  post([this] { run_abort(); });
}

void KafkaSinkCore::recover(std::uint64_t checkpoint, std::vector<RecordBatch> records, std::string location,
                            Sink::Done done) {
  post([this, checkpoint, records = std::move(records), location = std::move(location),
        done = std::move(done)]() mutable { run_recover(checkpoint, std::move(records), location, done); });
}

void KafkaSinkCore::hand_off(Sink::Prepared done) {
  post([this, done = std::move(done)] { run_hand_off(done); });
}

void KafkaSinkCore::stop(std::function<void()> on_stopped) {
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
    if (active().main_queue != nullptr) {
      rd_kafka_queue_yield(active().main_queue);
    }
  }
}

void KafkaSinkCore::abandon() {
  abandoned_.store(true);
  stop({});
}

void KafkaSinkCore::mark_stopped() {
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

void KafkaSinkCore::run() {
  for (;;) {
    run_tasks();
    Produced produced = Produced::all;
    {
      std::lock_guard lock(mutex_);
      if (stopping_ && tasks_.empty()) {
        break;
      }
      produced = produce_queued(true);
    }
    if (produced == Produced::yielded) {
      let_writers_in();
      poll(std::chrono::milliseconds(0));  // serve the delivery reports that came meanwhile
    } else {
      poll(produced == Produced::full ? busy_poll : idle_poll);
    }
    apply_deliveries();
  }
  finish();
}

void KafkaSinkCore::poll(std::chrono::milliseconds timeout) {
  // active_ changes only on this thread: the queue that writers yield is the one polled here.
  rd_kafka_poll(active().producer.get(), kafka_timeout(timeout));
  if (other().producer) {
    rd_kafka_poll(other().producer.get(), 0);
  }
}

std::size_t KafkaSinkCore::undelivered_bytes() const {
  std::lock_guard lock(mutex_);
  return undelivered_bytes_.load() + still_in_flight();
}

std::string KafkaSinkCore::undelivered_reason() const {
  std::lock_guard lock(mutex_);
  if (undelivered_reason_.empty() && still_in_flight() > 0) {
    return "not acknowledged by the brokers";
  }
  return undelivered_reason_;
}

std::size_t KafkaSinkCore::still_in_flight() const {
  std::size_t bytes = 0;
  if (!stopped_) {
    for (const auto& [id, in_flight] : in_flight_) {
      bytes += in_flight.bytes;
    }
  }
  return bytes;
}

bool KafkaSinkCore::failed() const { return failed_.load(); }

void KafkaSinkCore::post(std::function<void()> task) {
  std::unique_lock lock = lock_as_writer();
  tasks_.push_back(std::move(task));
  if (active().main_queue != nullptr) {
    rd_kafka_queue_yield(active().main_queue);
  }
}

void KafkaSinkCore::run_tasks() {
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

std::unique_lock<std::mutex> KafkaSinkCore::lock_as_writer() {
  writers_waiting_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock lock(mutex_);
  writers_waiting_.fetch_sub(1, std::memory_order_relaxed);
  return lock;
}

void KafkaSinkCore::let_writers_in() const {
  for (int spins = 0; spins < 1000 && writers_waiting_.load(std::memory_order_relaxed) > 0; ++spins) {
    std::this_thread::yield();
  }
}

KafkaSinkCore::Produced KafkaSinkCore::produce_queued(bool yield) {
  std::size_t produced = 0;
  auto writer_waits = [&] {
    return yield && produced >= records_per_hold && writers_waiting_.load(std::memory_order_relaxed) > 0;
  };
  while (!queue_.empty() && open_ && !failed_ && queue_.front().id < produce_limit_) {
    Queued& front = queue_.front();
    std::size_t records = record_count(front.batch);
    while (front.next < records) {
      std::size_t size = record_size(front.batch, front.next);
      if (size > config_.max_message_size) {
        if (front.next < front.checked) {
          ++front.next;  // produced again after an abort (suspend_for_abort): counted the first time
          continue;
        }
        front.checked = front.next + 1;
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
      rd_kafka_resp_err_t result = produce_record(active().producer.get(), active().topic, front.batch, front.next,
                                                  reinterpret_cast<void*>(static_cast<std::uintptr_t>(front.id)));
      if (result == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return Produced::full;
      }
      if (result == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++active().produced;
      } else {
        count_undelivered(size, kafka_error_text(result));
        note_lost(front.id, kafka_error_text(result));
        warn_throttled(failure_warned_, fmt::format("{}: cannot produce a record to topic '{}': {}", identity,
                                                    config_.topic, kafka_error_text(result)));
        record_done(front.id);
      }
      ++front.next;
      ++produced;
      if (front.next < records && writer_waits()) {
        return Produced::yielded;
      }
    }
    if (transactional()) {
      active().bytes += front.bytes;
      active().batches.push_back(std::make_shared<const RecordBatch>(std::move(front.batch)));
    }
    queue_.pop_front();
    queued_records_.store(queued_records_.load(std::memory_order_relaxed) - records, std::memory_order_relaxed);
    if (writer_waits()) {
      return Produced::yielded;
    }
  }
  return Produced::all;
}

void KafkaSinkCore::on_client_error(rd_kafka_t* client, rd_kafka_resp_err_t error, const char* reason) {
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

void KafkaSinkCore::fail(const std::string& cause, bool fenced) {
  std::vector<FlushWaiter> waiters;
  {
    std::lock_guard lock(mutex_);
    if (failed_) {
      return;
    }
    fail_locked(cause, fenced);
    waiters.swap(flush_waiters_);
  }
  for (auto& waiter : waiters) {
    waiter.done(failure_line());
  }
}

void KafkaSinkCore::fail_locked(const std::string& cause, bool fenced) {
  failed_ = true;
  failure_ = fenced ? "fenced by a newer instance with transactional.id '" + config_.transactional_id + "'"
                    : cause;
  io_logger()->error("{}", failure_line());
  std::size_t held = producers_[0].bytes + producers_[1].bytes;
  for (const auto& queued : queue_) {
    held += queued.bytes;
  }
  if (held > 0) {
    count_undelivered(held, failure_);
  }
  drop_uncommitted();
}

std::string KafkaSinkCore::failure_line() const {
  return identity + ": " + failure_ + " (" + cause_suffix() + "); the sink stops writing";
}

void KafkaSinkCore::drop_queued() {
  std::size_t bytes = 0;
  for (const auto& queued : queue_) {
    bytes += queued.bytes;
    in_flight_.erase(queued.id);
  }
  queue_.clear();
  queued_records_.store(0, std::memory_order_relaxed);
  cuts_.clear();  // they name queued batches
  produce_limit_ = no_limit;
  if (transactional()) {
    budget_.release(bytes);
  }
}

void KafkaSinkCore::drop_uncommitted() {
  drop_queued();
  std::size_t bytes = 0;
  for (auto& producer : producers_) {
    bytes += producer.bytes;
    producer.bytes = 0;
    producer.batches.clear();
    producer.prepared.reset();
  }
  if (transactional()) {
    budget_.release(bytes);
  }
}

void KafkaSinkCore::count_undelivered(std::size_t bytes, const std::string& reason) {
  undelivered_bytes_ += bytes;
  undelivered_reason_ = reason;
}

void KafkaSinkCore::warn_throttled(Clock::time_point& last, const std::string& line) {
  if (Clock::now() - last >= warning_interval) {
    last = Clock::now();
    io_logger()->warn("{}", line);
  }
}

void KafkaSinkCore::finish() {
  if (transactional()) {
    std::size_t uncommitted = 0;
    {
      std::lock_guard lock(mutex_);
      uncommitted = producers_[0].bytes + producers_[1].bytes;
      for (const auto& queued : queue_) {
        uncommitted += queued.bytes;
      }
      if (uncommitted > 0 && !failed_) {
        count_undelivered(uncommitted, "not committed when the sink stopped");
      }
      drop_uncommitted();
    }
    if (!failed()) {
      for (auto& producer : producers_) {
        (void)abort_open(producer, std::chrono::milliseconds(5000));
      }
    }
  } else {
    while (!abandoned_.load()) {
      Produced produced = Produced::all;
      {
        std::lock_guard lock(mutex_);
        produced = produce_queued(true);
        if (produced == Produced::all && (in_flight_.empty() || failed_)) {
          break;
        }
      }
      if (produced == Produced::yielded) {
        let_writers_in();
      }
      poll(produced == Produced::yielded ? std::chrono::milliseconds(0) : busy_poll);
      apply_deliveries();
    }
    if (abandoned_.load()) {
      rd_kafka_purge(active().producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      poll(std::chrono::milliseconds(0));
      apply_deliveries();
    }
  }
  std::vector<std::function<void()>> callbacks;
  std::vector<FlushWaiter> flushes;
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
    for (auto& producer : producers_) {
      if (producer.main_queue != nullptr) {
        rd_kafka_queue_destroy(producer.main_queue);
        producer.main_queue = nullptr;
      }
    }
  }
  for (auto& producer : producers_) {
    if (producer.topic != nullptr) {
      rd_kafka_topic_destroy(producer.topic);
      producer.topic = nullptr;
    }
    producer.transaction.reset();
    producer.producer.reset();
  }
  io_logger()->info("{}: stopped ({} bytes undelivered)", identity, undelivered_bytes_.load());
  for (auto& waiter : flushes) {
    waiter.done(identity + ": stopped before delivering everything");
  }
  for (auto& callback : callbacks) {
    callback();
  }
}

}  // namespace roo::io
