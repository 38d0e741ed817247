#include "connector_sink_core.hpp"
#include "io_log.hpp"
#include "peer_acknowledgement.hpp"

#include <algorithm>

namespace roo::io {

// Sending the stream's records as MESSAGEs, learning from the kernel what the peer acknowledged, and what flush()
// and stop() wait for.

namespace asio = boost::asio;

namespace {

constexpr std::uint64_t output_stream = 1;
/// MESSAGE frames are encoded into chunks of about this many bytes: one allocation per chunk, not per record.
constexpr std::size_t chunk_bytes = 256 * 1024;
// As the TCP sink: while written bytes wait for the peer's acknowledgement and nothing else is being written, the
// kernel is asked this often.
constexpr std::chrono::milliseconds acknowledgement_poll{10};

}  // namespace

void ConnectorSinkCore::write(RecordBatch&& batch) {
  if (batch.values.empty()) {
    return;  // nothing of it reaches the stream
  }
  budget_.add(batch.size_bytes());
  auto shared = std::make_shared<const RecordBatch>(std::move(batch));
  asio::post(strand_, [self = shared_from_this(), shared = std::move(shared)] { self->enqueue(shared); });
}

void ConnectorSinkCore::enqueue(const std::shared_ptr<const RecordBatch>& batch) {
  learn_recovery_point();
  if (closed_) {
    io_logger()->warn("{}: discarding output written after the sink stopped", identity_);
    budget_.release(batch->size_bytes());
    return;
  }
  output_.append(batch);
  send_records();
}

/// With checkpoints, the bytes after an open round's cut wait for its vote (no stream-1 data while a round is open).
std::uint64_t ConnectorSinkCore::sendable_end() const { return open_ ? open_->round.end : output_.end(); }

void ConnectorSinkCore::send_records() {
  // One chunk at a time: the next is encoded once the socket took this one, so memory holds the records once.
  if (phase_ != Phase::ready || writing_ || !outbox_.empty() || sent_ >= sendable_end()) {
    return;
  }
  std::string chunk;
  chunk.reserve(chunk_bytes + 64 * 1024);
  sent_ = output_.encode_messages(sent_, sendable_end(), chunk_bytes, output_stream, chunk);
  send(std::move(chunk));
  wire_marks_.emplace_back(wire_queued_, sent_);
}

void ConnectorSinkCore::acknowledge() {
  int fd = socket_.native_handle();
  std::uint64_t acked_wire = 0;
  if (std::optional<std::uint64_t> bytes = read_acknowledged_bytes(fd)) {
    acked_wire = *bytes;
  } else if (std::optional<std::size_t> unacknowledged = read_unacknowledged_bytes(fd)) {
    acked_wire = wire_written_ - std::min<std::uint64_t>(*unacknowledged, wire_written_);
  } else {
    return;
  }
  while (!wire_marks_.empty() && wire_marks_.front().first <= acked_wire) {
    acked_ = std::max(acked_, wire_marks_.front().second);
    wire_marks_.pop_front();
  }
  finish_flushes();
  if (!config_.transactional) {
    std::uint64_t keep = kept_margin();
    budget_.release(output_.release_before(acked_ > keep ? acked_ - keep : 0));
  }
}

/// Acknowledged bytes kept for a resend (at least once): the peer may not have read them yet. None once stopping.
std::uint64_t ConnectorSinkCore::kept_margin() const { return stopping_ ? 0 : config_.max_buffered_bytes / 2; }

void ConnectorSinkCore::poll_acknowledgements() {
  if (phase_ != Phase::ready || writing_ || polling_ || wire_marks_.empty()) {
    return;
  }
  polling_ = true;
  acknowledgement_timer_.expires_after(acknowledgement_poll);
  acknowledgement_timer_.async_wait(
      [self = shared_from_this(), generation = generation_](const boost::system::error_code& error) {
        self->polling_ = false;
        if (error || self->closed_ || generation != self->generation_) {
          return;
        }
        self->acknowledge();
        self->poll_acknowledgements();
        self->maybe_finish_stop();
      });
}

void ConnectorSinkCore::flush(std::function<void(std::string)> done) {
  asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    self->learn_recovery_point();
    if (self->closed_) {
      done(fmt::format("{}: the sink stopped", self->identity_));
      return;
    }
    std::uint64_t target = self->output_.end();
    if (self->placed_ && self->acked_ >= target) {
      done({});
      return;
    }
    self->flushes_.emplace_back(target, std::move(done));
  });
}

void ConnectorSinkCore::finish_flushes() {
  while (placed_ && !flushes_.empty() && flushes_.front().first <= acked_) {
    auto done = std::move(flushes_.front().second);
    flushes_.pop_front();
    done({});
  }
}

void ConnectorSinkCore::stop(std::function<void()> on_stopped) {
  asio::post(strand_, [self = shared_from_this(), on_stopped = std::move(on_stopped)]() mutable {
    if (on_stopped) {
      self->on_stopped_.push_back(std::move(on_stopped));
    }
    self->stopping_ = true;
    self->maybe_finish_stop();
  });
}

void ConnectorSinkCore::maybe_finish_stop() {
  if (!stopping_ || writing_) {
    return;
  }
  if (!closed_) {
    bool ready = phase_ == Phase::ready;
    if (config_.transactional) {
      // What is committed is the sink's; the rest stays for the next run's recovery. A round in flight is waited for.
      if (open_ || (ready && !outbox_.empty())) {
        return;
      }
    } else if (ready) {
      if (sent_ < output_.end() || !outbox_.empty()) {
        return;
      }
      acknowledge();
      if (acked_ < output_.end()) {
        poll_acknowledgements();
        return;
      }
    } else if (!output_.empty() && acked_ < output_.end()) {
      return;  // resent once reconnected
    }
    closed_ = true;
    close_connection();
    retry_timer_.cancel();
    prepare_timer_.cancel();
    if (!config_.transactional) {
      budget_.release(output_.release_before(output_.end()));
    }
    for (auto& [target, done] : std::exchange(flushes_, {})) {
      done(fmt::format("{}: the sink stopped before the peer had everything", identity_));
    }
    finish_recoveries(fmt::format("{}: the sink stopped", identity_));
    if (handed_off_) {
      std::exchange(handed_off_, {})(fmt::format("{}: the sink stopped", identity_));
    }
    io_logger()->info("{}: stopped", identity_);
  }
  auto callbacks = std::move(on_stopped_);
  on_stopped_.clear();
  for (auto& callback : callbacks) {
    callback();
  }
}

void ConnectorSinkCore::abandon() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->closed_) {
      return;
    }
    if (self->undelivered_bytes() > 0 && !self->stopping_) {
      io_logger()->warn("{}: discarding {} bytes not yet {}", self->identity_, self->undelivered_bytes(),
                        self->config_.transactional ? "committed" : "delivered");
    }
    self->closed_ = true;
    self->close_connection();
    self->retry_timer_.cancel();
    self->prepare_timer_.cancel();
    self->budget_.release(self->output_.release_before(self->output_.end()));
    self->handed_off_ = nullptr;  // its caller is gone (it holds this core: a cycle otherwise)
  });
}

std::size_t ConnectorSinkCore::undelivered_bytes() const {
  std::uint64_t safe = config_.transactional ? committed_ : acked_;
  if (!placed_) {
    safe = output_.front();
  }
  return static_cast<std::size_t>(output_.end() - std::clamp(safe, output_.front(), output_.end()));
}

std::string ConnectorSinkCore::undelivered_reason() const {
  if (config_.transactional) {
    return "no checkpoint committed them";
  }
  if (phase_ == Phase::ready) {
    return "the peer did not acknowledge them";
  }
  return last_error_.empty() ? std::string("no connection") : "no connection: " + last_error_;
}

}  // namespace roo::io
