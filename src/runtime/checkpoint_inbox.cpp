#include "checkpoint_inbox.hpp"

#include <utility>

namespace roo::runtime {

void CheckpointInbox::push(Message message) {
  std::lock_guard lock(mutex_);
  messages_.push_back(std::move(message));
}

std::vector<CheckpointInbox::Message> CheckpointInbox::take() {
  std::lock_guard lock(mutex_);
  return std::exchange(messages_, {});
}

}  // namespace roo::runtime
