#include "member_table.hpp"

#include "cluster_log.hpp"

#include <algorithm>

namespace roo::cluster {

void MemberTable::assign(Membership membership) {
  membership_ = std::move(membership);
  membership_.departed.resize(membership_.workers.size(), false);
  std::size_t count = membership_.workers.size();
  peers_.resize(count);
  lost_ = std::make_unique<std::atomic<bool>[]>(max_workers);
  sent_bytes_ = std::make_unique<std::atomic<std::uint64_t>[]>(max_workers);
  processed_bytes_ = std::make_unique<std::atomic<std::uint64_t>[]>(max_workers);
  budgets_ = std::make_unique<std::unique_ptr<core::ByteBudget>[]>(max_workers);
  for (std::size_t i = 0; i < count; ++i) {
    open_slot(i);
    // A joiner's membership may name workers that left or were lost: it opens no channel to them, and what it
    // would send them is dropped and counted, as for a lost worker (no loss of its own to report).
    lost_[i] = membership_.departed[i];
  }
  count_.store(count, std::memory_order_release);
  ready_ = true;
}

void MemberTable::open_slot(std::size_t index) {
  lost_[index] = false;
  sent_bytes_[index] = 0;
  processed_bytes_[index] = 0;
  budgets_[index] = std::make_unique<core::ByteBudget>(config_.max_unacknowledged_bytes);
}

bool MemberTable::add(Membership membership) {
  std::size_t index = peers_.size();
  if (index >= max_workers || membership.workers.size() != index + 1) {
    return false;
  }
  open_slot(index);
  peers_.emplace_back().has_membership = false;  // the initializer sends it once the joiner's channels are up
  membership_ = std::move(membership);
  membership_.departed.resize(membership_.workers.size(), false);
  count_.store(index + 1, std::memory_order_release);
  return true;
}

void MemberTable::update(Membership membership) {
  membership.self = membership_.self;
  membership.departed.resize(membership.workers.size(), false);
  membership_ = std::move(membership);
}

bool MemberTable::owns_key_groups(std::size_t index) const {
  const auto& owners = membership_.owners;
  if (owners.empty()) {
    return index < membership_.workers.size();
  }
  return std::find(owners.begin(), owners.end(), static_cast<std::uint16_t>(index)) != owners.end();
}

void MemberTable::mark_departed(std::size_t index) {
  if (index < membership_.departed.size()) {
    membership_.departed[index] = true;
  }
}

void MemberTable::record_loss(std::size_t index, const std::string& cause, bool while_stopping) {
  Peer& peer = peers_[index];
  peer.lost_cause = cause;
  peer.lost_while_stopping = while_stopping;
  peer.unprocessed_at_loss = peer.outstanding;
  lost_[index] = true;
  if (config_.roll_back_on_loss) {
    cluster_logger()->warn("cluster: lost worker '{}' ({}); the cluster rolls back to its last complete checkpoint",
                           name_of(index), cause);
  } else {
    cluster_logger()->warn(
        "cluster: lost worker '{}' ({}); its key groups are unreachable until the cluster is restarted", name_of(index),
        cause);
  }
  for (auto* connection : {&peer.control, &peer.outbound, &peer.inbound}) {
    if (*connection) {
      (*connection)->close();
    }
  }
  budgets_[index]->release(peer.outstanding);
  peer.outstanding = 0;
}

void MemberTable::close_connections() {
  for (auto& peer : peers_) {
    for (auto* connection : {&peer.control, &peer.outbound, &peer.inbound}) {
      if (*connection) {
        (*connection)->close();
      }
    }
  }
}

}  // namespace roo::cluster
