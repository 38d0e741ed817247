#include "roo/io/nats_sink.hpp"

#include "io_log.hpp"
#include "nats_connection.hpp"

#include "roo/core/error.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

// A NATS sink: its thread publishes the queued records and confirms them with a flush (nats_sink.hpp).

namespace roo::io {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t flush_timeout_ms = 500;  // one PING/PONG round trip; retried while the server is away
constexpr std::chrono::milliseconds retry_wait{50};
constexpr std::chrono::seconds warning_interval{30};

class NatsSink final : public Sink {
 public:
  explicit NatsSink(NatsSinkConfig config)
      : config_(std::move(config)),
        identity_("nats_sink '" + config_.name + "'"),
        connection_(NatsConnection::Options{.url = config_.server_url,
                                            .identity = identity_,
                                            .what = "sink '" + config_.name + "'",
                                            .reconnect_buffer = config_.reconnect_buffer}),
        budget_(config_.max_buffered_bytes) {}

  ~NatsSink() override {
    abandoned_.store(true);
    stop({});
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();  // cannot happen: callbacks never destroy the sink; kept for safety
      } else {
        thread_.join();
      }
    }
  }

  NatsSink(const NatsSink&) = delete;
  NatsSink& operator=(const NatsSink&) = delete;

  void start() override {
    if (thread_.joinable()) {
      return;
    }
    if (config_.subject.empty()) {
      throw core::UsageError(fmt::format("start sink '{}': no NATS subject given", config_.name));
    }
    connection_.connect();
    thread_ = std::thread([this] { run(); });
  }

  [[nodiscard]] bool takes_records() const override { return true; }

  void write(RecordBatch&& batch) override {
    if (batch.empty()) {
      return;
    }
    budget_.add(batch.size_bytes());
    {
      std::lock_guard lock(mutex_);
      if (!finished_) {
        queue_.push_back(std::move(batch));
        ++written_;
        wake_.notify_all();
        return;
      }
    }
    lose(batch.size_bytes(), "written after the sink stopped");
  }

  [[nodiscard]] core::ByteBudget& budget() override { return budget_; }

  void flush(std::function<void(std::string error)> done) override {
    std::unique_lock lock(mutex_);
    if (finished_) {
      lock.unlock();
      done(lost_bytes_.load() == 0 ? std::string() : reason());
      return;
    }
    flushes_.push_back(Flush{written_, std::move(done)});
    wake_.notify_all();
  }

  void stop(std::function<void()> on_stopped) override {
    std::unique_lock lock(mutex_);
    if (finished_ || !thread_.joinable()) {
      finished_ = true;
      lock.unlock();
      if (on_stopped) {
        on_stopped();
      }
      return;
    }
    if (on_stopped) {
      on_stopped_.push_back(std::move(on_stopped));
    }
    stopping_ = true;
    wake_.notify_all();
  }

  [[nodiscard]] std::size_t undelivered_bytes() const override { return budget_.in_flight() + lost_bytes_.load(); }

  [[nodiscard]] std::string undelivered_reason() const override { return reason(); }

 private:
  struct Flush {
    std::uint64_t written = 0;  // done once the batches before this count are confirmed
    std::function<void(std::string)> done;
  };

  void run() {
    std::size_t unconfirmed = 0;  // bytes published since the last successful flush
    std::uint64_t taken = 0;      // batches taken from the queue
    for (;;) {
      std::deque<RecordBatch> batches;
      bool stopping = false;
      {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(100), [&] {
          return !queue_.empty() || !flushes_.empty() || stopping_ || abandoned_.load() || unconfirmed > 0;
        });
        batches.swap(queue_);
        stopping = stopping_;
      }
      taken += batches.size();
      for (auto& batch : batches) {
        unconfirmed += publish(batch);
      }
      if (abandoned_.load()) {
        break;
      }
      if (unconfirmed > 0 || has_flushes()) {
        natsStatus status = natsConnection_FlushTimeout(connection_.get(), flush_timeout_ms);
        if (status == NATS_OK) {
          budget_.release(unconfirmed);
          unconfirmed = 0;
          answer_flushes(taken, {});
        } else if (status == NATS_CONNECTION_CLOSED) {
          lose(unconfirmed, "the connection was closed");
          unconfirmed = 0;
        } else {
          last_problem(fmt::format("the NATS server at {} did not answer ({})", config_.server_url,
                                   nats_error_text(status, connection_.get())));
          std::this_thread::sleep_for(retry_wait);
        }
      }
      if (stopping && unconfirmed == 0 && queue_empty()) {
        break;
      }
    }
    finish();
  }

  /// Publishes every record of `batch` as one message; returns the bytes published (the rest is lost and counted).
  std::size_t publish(const RecordBatch& batch) {
    std::size_t published = batch.size_bytes();
    std::size_t count = batch.records.empty() ? 1 : batch.records.size();
    for (std::size_t i = 0; i < count; ++i) {
      std::string_view value = batch.records.empty() ? std::string_view(batch.values.data(), batch.values.size())
                                                     : batch.value(i);
      natsStatus status = publish_one(value);
      if (status != NATS_OK) {
        published -= value.size();
        lose(value.size(), fmt::format("a message of {} bytes could not be published to '{}': {}", value.size(),
                                       config_.subject, nats_error_text(status, connection_.get())));
      }
    }
    return published;
  }

  /// One message; while libnats reconnects and its buffer is full, waits (the budget holds the executor back).
  natsStatus publish_one(std::string_view value) {
    for (;;) {
      natsStatus status = natsConnection_Publish(connection_.get(), config_.subject.c_str(), value.data(),
                                                 static_cast<int>(value.size()));
      if (status != NATS_INSUFFICIENT_BUFFER || abandoned_.load()) {
        return status;
      }
      last_problem(fmt::format("the NATS server at {} is away and the reconnect buffer ({} bytes) is full",
                               config_.server_url, config_.reconnect_buffer));
      std::this_thread::sleep_for(retry_wait);
    }
  }

  /// Bytes that will not be delivered: out of the budget, into the count, one warning line at most every 30 s.
  void lose(std::size_t bytes, const std::string& why) {
    budget_.release(bytes);
    lost_bytes_.fetch_add(bytes);
    last_problem(why);
    auto now = Clock::now();
    std::lock_guard lock(reason_mutex_);
    if (now >= next_warning_) {
      next_warning_ = now + warning_interval;
      io_logger()->warn("{}: {} ({} bytes not delivered so far)", identity_, why, lost_bytes_.load());
    }
  }

  void last_problem(std::string why) {
    std::lock_guard lock(reason_mutex_);
    reason_ = std::move(why);
  }

  [[nodiscard]] std::string reason() const {
    std::lock_guard lock(reason_mutex_);
    if (!reason_.empty()) {
      return reason_;
    }
    return connection_.connected() ? "not confirmed by the NATS server"
                                   : fmt::format("the NATS server at {} is unreachable", config_.server_url);
  }

  bool has_flushes() {
    std::lock_guard lock(mutex_);
    return !flushes_.empty();
  }

  bool queue_empty() {
    std::lock_guard lock(mutex_);
    return queue_.empty();
  }

  /// Answers the flushes covered by the first `confirmed` batches.
  void answer_flushes(std::uint64_t confirmed, const std::string& error) {
    std::vector<std::function<void(std::string)>> answered;
    {
      std::lock_guard lock(mutex_);
      while (!flushes_.empty() && flushes_.front().written <= confirmed) {
        answered.push_back(std::move(flushes_.front().done));
        flushes_.pop_front();
      }
    }
    for (auto& done : answered) {
      done(error);
    }
  }

  /// The thread ends: whatever is still queued is lost (abandoned), the connection closes, everyone is answered.
  void finish() {
    std::deque<RecordBatch> left;
    std::vector<std::function<void()>> callbacks;
    std::deque<Flush> flushes;
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
      left.swap(queue_);
      callbacks.swap(on_stopped_);
      flushes.swap(flushes_);
    }
    for (auto& batch : left) {
      lose(batch.size_bytes(), reason());
    }
    connection_.close();
    std::string error = undelivered_bytes() == 0 ? std::string() : reason();
    for (auto& flush : flushes) {
      flush.done(error);
    }
    io_logger()->info("{}: stopped ({} bytes not delivered)", identity_, undelivered_bytes());
    for (auto& callback : callbacks) {
      callback();
    }
  }

  NatsSinkConfig config_;
  std::string identity_;
  NatsConnection connection_;
  core::ByteBudget budget_;
  std::thread thread_;
  std::atomic<bool> abandoned_{false};
  std::atomic<std::size_t> lost_bytes_{0};

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<RecordBatch> queue_;
  std::uint64_t written_ = 0;  // batches queued in all
  std::deque<Flush> flushes_;
  bool stopping_ = false;
  bool finished_ = false;
  std::vector<std::function<void()>> on_stopped_;

  mutable std::mutex reason_mutex_;
  std::string reason_;
  Clock::time_point next_warning_{};
};

}  // namespace

std::unique_ptr<Sink> make_nats_sink(NatsSinkConfig config) { return std::make_unique<NatsSink>(std::move(config)); }

}  // namespace roo::io
