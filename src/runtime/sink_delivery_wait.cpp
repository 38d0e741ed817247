#include "sink_delivery_wait.hpp"

namespace roo::runtime {

SinkDeliveryWait::State SinkDeliveryWait::check(std::uint64_t written) {
  State last = state();
  if (last != State::delivered || (flush_ && flush_->written == written)) {
    return last;
  }
  // Output was written since the last flush (or none was issued yet): flush what the sinks hold now.
  flush(written);
  return state();
}

SinkDeliveryWait::State SinkDeliveryWait::state() {
  if (flush_ && flush_->left.load() > 0) {
    return State::waiting;
  }
  if (flush_ && flush_->failed.load()) {
    failure_ = flush_->error;
    return State::failed;
  }
  return State::delivered;
}

void SinkDeliveryWait::flush(std::uint64_t written) {
  auto flush = std::make_shared<Flush>();
  flush->left = sinks_.size();
  flush->written = written;
  flush_ = flush;
  for (auto& sink : sinks_) {
    sink->flush([flush, &doorbell = doorbell_](const std::string& error) {
      if (!error.empty() && !flush->failed.exchange(true)) {
        flush->error = error;
      }
      flush->left.fetch_sub(1);
      doorbell.ring();
    });
  }
}

void SinkDeliveryWait::reset() {
  flush_.reset();
  failure_.clear();
}

}  // namespace roo::runtime
