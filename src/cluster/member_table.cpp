#include "member_table.hpp"

#include "cluster_log.hpp"

namespace roo::cluster {

void MemberTable::assign(Membership membership) {
  membership_ = std::move(membership);
  std::size_t count = membership_.workers.size();
  peers_.resize(count);
  lost_ = std::make_unique<std::atomic<bool>[]>(count);
  sent_bytes_ = std::make_unique<std::atomic<std::uint64_t>[]>(count);
  processed_bytes_ = std::make_unique<std::atomic<std::uint64_t>[]>(count);
  for (std::size_t i = 0; i < count; ++i) {
    lost_[i] = false;
    sent_bytes_[i] = 0;
    processed_bytes_[i] = 0;
    budgets_.push_back(std::make_unique<core::ByteBudget>(config_.max_unacknowledged_bytes));
  }
  ready_ = true;
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
        "cluster: lost worker '{}' ({}); its key groups are unreachable until the cluster is restarted",
        name_of(index), cause);
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
