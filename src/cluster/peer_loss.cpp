// What a peer's loss means to each protocol, and what the runtime's closing report says about the peers.
#include "cluster_core.hpp"
#include "cluster_log.hpp"

namespace roo::cluster {

void ClusterCore::on_peer_closed(std::size_t index, const std::string& cause) {
  if (life_.phase == Phase::closed || life_.phase == Phase::exited) {
    return;
  }
  if (!life_.formed) {
    std::string message = "worker '" + members_.name_of(index) + "' left while the cluster was forming (" + cause + ")";
    formation_.fail(config_.initializer ? "form the cluster: " + message : formation_.join_error(message));
    return;
  }
  mark_lost(index, cause);
}

// The MemberTable records the loss (and releases the peer's credit); then, in this order, the data channels drop
// its waiting batch, the runtime hears of it, (without roll-back) the other workers, the gathers and the drain, and
// last the rescale round (the others must hear of the loss before a second move marks the worker departed).
void ClusterCore::mark_lost(std::size_t index, const std::string& cause) {
  if (!members_.ready() || index >= members_.size() || members_.lost(index) || index == members_.self() ||
      life_.phase == Phase::closed || life_.phase == Phase::exited) {
    return;
  }
  if (members_.departed(index) && !rescale_.takes_part(index)) {
    return;  // it left (and was told to go): its connections closing is no loss
  }
  if (!config_.initializer && !members_.peer(index).inbound && !members_.owns_key_groups(index)) {
    // A joiner that never reached this worker (the initializer turned it away, or it died before it had its
    // membership): it held nothing and sent nothing. Not a loss: no rollback, no line beyond this one.
    cluster_logger()->info("cluster: worker '{}' left before it joined", members_.name_of(index));
    members_.mark_departed(index);
    return;
  }
  members_.record_loss(index, cause, life_.phase == Phase::stopping);
  data_.discard_waiting(index);
  streams_.on_peer_lost(index);
  if (hooks_.on_peer_lost) {
    hooks_.on_peer_lost(index);
  }
  if (config_.roll_back_on_loss) {
    rescale_.on_peer_lost(index);
    return;  // the runtime closes this cluster and forms a new one: nothing to tell, nothing to drain
  }
  if (config_.initializer) {
    for (std::size_t i = 1; i < members_.size(); ++i) {
      if (members_.hears_cluster(i)) {
        members_.peer(i).control->write(
            message(MessageType::worker_lost).u32(static_cast<std::uint32_t>(index)).take());
      }
    }
    queries_.settle(index);
    drain_.on_peer_lost(index);
  } else if (index == 0) {
    queries_.settle(index);
    drain_.on_peer_lost(index);
  }
  rescale_.on_peer_lost(index);
}

std::vector<PeerShortfall> ClusterCore::shortfalls() const {
  std::vector<PeerShortfall> result;
  if (!members_.ready()) {
    return result;
  }
  // A worker hears the initializer's exit only once every live worker was drained, so a peer that closed while this
  // one was stopping, owing it nothing, had simply exited first. The initializer itself is never told so.
  bool exit_said = !config_.initializer && life_.phase == Phase::exited && !drain_.alone();
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (i == members_.self() || (members_.departed(i) && !members_.peer(i).lost_cause) ||
        members_.peer(i).held_nothing) {
      // A worker that left handed everything over before it went; a joiner lost before it owned a key group had
      // only state handed to it in its round, and the round took that back (RescaleProtocol::move_without).
      continue;
    }
    const MemberTable::Peer& peer = members_.peer(i);
    PeerShortfall shortfall{members_.name_of(i), peer.unprocessed_at_loss, peer.lost_cause, peer.undrained};
    if (!peer.lost_cause) {
      // A worker that left the cluster was told to go only once the initializer saw every byte it sent processed
      // (the rescale's quiet poll); acknowledgements still on their way change nothing.
      shortfall.unprocessed_bytes = members_.departed(members_.self()) ? 0 : members_.budget(i).in_flight();
    } else if (exit_said && peer.lost_while_stopping && peer.unprocessed_at_loss == 0) {
      continue;  // it exited before this worker heard the exit: nothing of ours was left with it
    }
    if (shortfall.lost || shortfall.unprocessed_bytes > 0 || shortfall.undrained) {
      result.push_back(std::move(shortfall));
    }
  }
  return result;
}

}  // namespace roo::cluster
