#include "rescale_inbox.hpp"

#include <utility>

namespace roo::runtime {

void RescaleInbox::push(Message message) {
  std::lock_guard lock(mutex_);
  messages_.push_back(std::move(message));
  waiting_.store(messages_.size(), std::memory_order_release);
}

std::vector<RescaleInbox::Message> RescaleInbox::take() {
  std::lock_guard lock(mutex_);
  waiting_.store(0, std::memory_order_release);
  return std::exchange(messages_, {});
}

}  // namespace roo::runtime
