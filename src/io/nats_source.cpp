#include "roo/io/nats_source.hpp"

#include "io_log.hpp"
#include "nats_connection.hpp"
#include "threaded_source.hpp"

#include "roo/core/clock.hpp"
#include "roo/core/error.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

// A NATS source: a synchronous subscription read by the source's own thread (nats_source.hpp).
//
// Why a synchronous subscription: libnats's reader thread only queues messages for it (up to the pending limits),
// so a full mailbox never blocks a libnats thread; our thread takes the messages when the executor has room.

namespace roo::io {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t poll_ms = 100;                        // one wait for a message
constexpr std::chrono::seconds drop_log_interval{5};         // the dropped-messages line at most this often
constexpr std::int64_t drain_timeout_ms = 5000;              // the stop's drain of the subscription
constexpr std::size_t max_frames_per_batch = 65536;

struct SubscriptionCloser {
  void operator()(natsSubscription* subscription) const { natsSubscription_Destroy(subscription); }
};
using SubscriptionHandle = std::unique_ptr<natsSubscription, SubscriptionCloser>;

struct MessageCloser {
  void operator()(natsMsg* message) const { natsMsg_Destroy(message); }
};
using MessageHandle = std::unique_ptr<natsMsg, MessageCloser>;

/// The subscription and the batch it fills, driven by the source's thread (run()); stop and room callbacks come from
/// other threads. shared_ptr: the mailbox's room callback holds it weakly.
class NatsSourceCore : public std::enable_shared_from_this<NatsSourceCore> {
 public:
  using Mailbox = core::BoundedMailbox<core::FrameBatch>;

  NatsSourceCore(NatsSourceConfig config, Mailbox& mailbox, core::BatchPool& pool)
      : config_(std::move(config)),
        identity_("nats_source '" + config_.name + "'"),
        connection_(NatsConnection::Options{.url = config_.server_url,
                                            .identity = identity_,
                                            .what = "source '" + config_.name + "'"}),
        mailbox_(mailbox),
        pool_(pool),
        batch_(pool.acquire()) {}

  /// On the caller's thread, before run(): connects and subscribes; throws core::Error.
  void start() {
    if (config_.subject.empty()) {
      throw core::UsageError(fmt::format("start source '{}': no NATS subject given", config_.name));
    }
    connection_.connect();
    natsSubscription* subscription = nullptr;
    natsStatus status =
        config_.queue_group.empty()
            ? natsConnection_SubscribeSync(&subscription, connection_.get(), config_.subject.c_str())
            : natsConnection_QueueSubscribeSync(&subscription, connection_.get(), config_.subject.c_str(),
                                                config_.queue_group.c_str());
    if (status == NATS_OK) {
      subscription_.reset(subscription);
      status = natsSubscription_SetPendingLimits(subscription, config_.pending_messages, config_.pending_bytes);
    }
    if (status == NATS_OK) {
      status = natsConnection_FlushTimeout(connection_.get(), 5000);  // the server has the subscription now
    }
    if (status != NATS_OK) {
      throw core::Error(fmt::format("subscribe to '{}' on {} for source '{}': {}", config_.subject,
                                    config_.server_url, config_.name, nats_error_text(status, connection_.get())));
    }
    io_logger()->info("{}: subscribed to '{}'{}", identity_, config_.subject,
                      config_.queue_group.empty() ? "" : fmt::format(" in queue group '{}'", config_.queue_group));
  }

  /// The thread's body: takes messages until a stop, then drains the subscription and hands the rest over.
  void run() {
    while (!stop_requested_.load(std::memory_order_acquire)) {
      if (waiting_for_room_) {
        if (wait_for_room(std::chrono::milliseconds(poll_ms), /*or_stop=*/true)) {
          (void)hand_over();
        }
      } else {
        take_messages(poll_ms);
      }
      note_drops(/*at_stop=*/false);
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
      }
    }
    wake_.notify_all();
    if (on_stopped) {
      on_stopped();  // already stopped
    }
  }

  /// Never started: nothing to hand over.
  void mark_stopped() { run_stop_callbacks(); }

  /// The Source handle is going away: a stop stuck on a full mailbox gives up.
  void abandon() {
    abandoned_.store(true, std::memory_order_release);
    wake_.notify_all();
  }

 private:
  /// Takes what libnats queued (waiting up to `wait_ms` for the first) until the batch is full, then hands it over.
  void take_messages(std::int64_t wait_ms) {
    std::int64_t wait = wait_ms;
    for (;;) {
      natsMsg* raw = nullptr;
      natsStatus status = natsSubscription_NextMsg(&raw, subscription_.get(), wait);
      if (status != NATS_OK) {
        last_status_ = status;
        break;
      }
      MessageHandle message(raw);
      batch_.append(natsMsg_GetData(raw), static_cast<std::size_t>(natsMsg_GetDataLength(raw)));
      wait = 0;
      if (batch_.payload_bytes() >= config_.batch_bytes || batch_.size() >= max_frames_per_batch) {
        break;
      }
    }
    if (!batch_.empty()) {
      (void)hand_over();
    }
  }

  /// Pushes the batch into the mailbox. Refused: keeps it, and the thread takes nothing until there is room.
  bool hand_over() {
    batch_.source = config_.source_index;
    batch_.received_ns = core::steady_clock_ns();
    std::weak_ptr<NatsSourceCore> weak = weak_from_this();
    core::PushResult pushed = mailbox_.try_push(batch_, [weak] {
      if (auto self = weak.lock()) {
        self->on_room();
      }
    });
    if (pushed == core::PushResult::accepted) {
      batch_ = pool_.acquire();
      waiting_for_room_ = false;
      return true;
    }
    if (pushed == core::PushResult::closed) {
      io_logger()->warn("{}: the executor's mailbox is closed; discarding {} messages", identity_, batch_.size());
      lost_ += batch_.size();
      batch_.clear();
      waiting_for_room_ = false;
      return true;
    }
    waiting_for_room_ = true;
    return false;
  }

  void on_room() {
    {
      std::lock_guard lock(wake_mutex_);
      room_ = true;
    }
    wake_.notify_all();
  }

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

  /// Messages libnats dropped because the subscription's pending limits were reached: one line at most every
  /// drop_log_interval while it happens, and the total at the stop.
  void note_drops(bool at_stop) {
    std::int64_t dropped = 0;
    if (subscription_ == nullptr || natsSubscription_GetDropped(subscription_.get(), &dropped) != NATS_OK) {
      dropped = dropped_;  // a closed subscription: what was counted last
    }
    auto now = Clock::now();
    if (dropped > dropped_logged_ && (at_stop || now >= next_drop_log_)) {
      io_logger()->warn("{}: the NATS client dropped {} messages as a slow consumer ({} in all): the pipeline fell "
                        "behind the subject and the pending limits ({} messages, {} bytes) were reached",
                        identity_, dropped - dropped_logged_, dropped, config_.pending_messages,
                        config_.pending_bytes);
      dropped_logged_ = dropped;
      next_drop_log_ = now + drop_log_interval;
    }
    dropped_ = dropped;
  }

  /// After the stop request: drains the subscription (the server sends no more; what it sent is taken), hands it
  /// all over (waiting for room), closes the connection.
  void finish() {
    if (natsSubscription_DrainTimeout(subscription_.get(), drain_timeout_ms) == NATS_OK) {
      auto deadline = Clock::now() + std::chrono::milliseconds(drain_timeout_ms);
      while (!abandoned_.load(std::memory_order_acquire) && Clock::now() < deadline) {
        if (waiting_for_room_) {
          if (wait_for_room(std::chrono::milliseconds(poll_ms), /*or_stop=*/false)) {
            (void)hand_over();
          }
          continue;
        }
        take_messages(poll_ms);
        if (last_status_ != NATS_OK && last_status_ != NATS_TIMEOUT) {
          break;  // drained: the subscription is closed
        }
        if (last_status_ == NATS_TIMEOUT && !natsSubscription_IsValid(subscription_.get())) {
          break;
        }
      }
    }
    note_drops(/*at_stop=*/true);
    if (!batch_.empty()) {
      io_logger()->warn("{}: stopped with a full mailbox; discarding {} messages", identity_, batch_.size());
      lost_ += batch_.size();
    }
    pool_.release(std::move(batch_));
    subscription_.reset();
    connection_.close();
    io_logger()->info("{}: stopped ({} messages dropped by the client as a slow consumer{})", identity_, dropped_,
                      lost_ == 0 ? "" : fmt::format(", {} discarded at the stop", lost_));
    run_stop_callbacks();
  }

  void run_stop_callbacks() {
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

  NatsSourceConfig config_;
  std::string identity_;
  NatsConnection connection_;
  Mailbox& mailbox_;
  core::BatchPool& pool_;

  // Owned by the source's thread (by start() before it runs).
  SubscriptionHandle subscription_;
  core::FrameBatch batch_;
  bool waiting_for_room_ = false;
  natsStatus last_status_ = NATS_OK;
  std::int64_t dropped_ = 0;
  std::int64_t dropped_logged_ = 0;
  Clock::time_point next_drop_log_{};
  std::size_t lost_ = 0;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool room_ = false;
  std::atomic<bool> abandoned_{false};

  std::mutex mutex_;  // the stop callbacks
  std::atomic<bool> stop_requested_{false};
  bool stopped_ = false;
  std::vector<std::function<void()>> on_stopped_;
};

/// The Source handle: the core and its thread.
using NatsSource = ThreadedSource<NatsSourceCore>;

}  // namespace

std::unique_ptr<Source> make_nats_source(NatsSourceConfig config, core::BoundedMailbox<core::FrameBatch>& mailbox,
                                         core::BatchPool& pool) {
  return std::make_unique<NatsSource>(std::move(config), mailbox, pool);
}

}  // namespace roo::io
