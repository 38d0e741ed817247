#include "kafka_sink_core.hpp"

#include "io_log.hpp"

namespace roo::io {

// The Kafka sink's delivery reports: the budget they release and the flushes they answer (kafka_sink_core.hpp).

void KafkaSinkCore::on_delivery(rd_kafka_t* client, const rd_kafka_message_t& message) {
  auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(message._private));
  if (transactional() && message.err == RD_KAFKA_RESP_ERR_NO_ERROR && message.offset >= 0) {
    (producers_[0].producer.get() == client ? producers_[0] : producers_[1])
        .written.add(message.partition, message.offset);
  }
  if (!delivered_.empty() && delivered_.back().first == id) {
    ++delivered_.back().second;
  } else {
    delivered_.emplace_back(id, 1);
  }
  if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string cause = kafka_error_text(message.err);
    std::lock_guard lock(mutex_);
    if (transactional()) {
      // The transaction can only abort now: its commit fails and produces the transaction's records again.
      io_logger()->debug("{}: a record was not delivered to {}/{}: {}", identity, config_.topic, message.partition,
                         cause);
      return;
    }
    ++undelivered_records_;
    count_undelivered(message.len + message.key_len, cause);
    note_lost(id, cause);
    warn_throttled(failure_warned_, fmt::format("{}: could not deliver a record to {}/{}: {} ({} so far)", identity,
                                                config_.topic, message.partition, cause, undelivered_records_));
  }
}

void KafkaSinkCore::apply_deliveries() {
  if (delivered_.empty()) {
    return;
  }
  std::vector<FlushWaiter> ready;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, count] : delivered_) {
      record_done(id, count);
    }
    ready = take_ready_flushes();
  }
  delivered_.clear();
  for (auto& waiter : ready) {
    waiter.done(waiter.error);
  }
}

void KafkaSinkCore::record_done(std::uint64_t id, std::size_t count) {
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

std::vector<FlushWaiter> KafkaSinkCore::take_ready_flushes() {
  std::vector<FlushWaiter> ready;
  std::uint64_t oldest = in_flight_.empty() ? no_limit : in_flight_.begin()->first;
  for (auto it = flush_waiters_.begin(); it != flush_waiters_.end();) {
    if (it->upto <= oldest) {
      ready.push_back(std::move(*it));
      it = flush_waiters_.erase(it);
    } else {
      ++it;
    }
  }
  return ready;
}

void KafkaSinkCore::note_lost(std::uint64_t id, const std::string& cause) {
  std::string line = fmt::format("{}: records were not delivered to topic '{}': {}", identity, config_.topic, cause);
  bool covered = false;
  for (auto& waiter : flush_waiters_) {
    if (waiter.upto > id) {
      waiter.error = line;
      covered = true;
    }
  }
  if (!covered) {
    unreported_failure_ = line;
  }
}

}  // namespace roo::io
