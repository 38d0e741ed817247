// Growing and shrinking a running cluster: joiners admitted after formation, and the rescale round (pause, quiet,
// move, quiet, resume) that moves key groups to their new owners.
#include "rescale_protocol.hpp"

#include "cluster_log.hpp"
#include "formation.hpp"
#include "quiet_cluster.hpp"

#include "roo/cluster/key_group_table.hpp"
#include "roo/core/json.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace roo::cluster {
namespace {

constexpr std::chrono::milliseconds poll_interval{20};

std::string quoted_list(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) {
    text += (text.empty() ? "'" : ", '") + name + "'";
  }
  return text;
}

std::string shrink_answer_json(const std::vector<std::string>& names) {
  nlohmann::ordered_json answer;
  answer["node_names"] = names;
  answer["node_count"] = names.size();
  return core::to_json(answer);
}

}  // namespace

// Leavers (departed once the move went out) still hear the round until they are told to go.
void RescaleProtocol::send(std::size_t index, std::vector<char> frame) {
  if (index < members_.size() && !members_.lost(index) && members_.peer(index).control &&
      !members_.peer(index).control->closed()) {
    members_.peer(index).control->write(std::move(frame));
  }
}

// ---- joiners (the initializer) ----

std::string RescaleProtocol::admit(const std::shared_ptr<FramedConnection>& connection, const WorkerInfo& worker) {
  if (!config_.rescale_refusal.empty()) {
    return std::string(cannot_grow_refusal) + config_.rescale_refusal;
  }
  if (members_.size() + joiners_.size() + parked_.size() >= MemberTable::max_workers) {
    return "the cluster has the most workers it can have (" + std::to_string(MemberTable::max_workers) + ")";
  }
  for (const auto& parked : parked_) {
    if (parked.worker.name == worker.name) {
      return "a worker named '" + worker.name + "' is already joining";
    }
  }
  if (in_progress() || !joiners_.empty() || !may_change()) {
    cluster_logger()->info("cluster: worker '{}' waits to join until {} is over", worker.name,
                           in_progress()      ? "rescale " + std::to_string(round_)
                           : joiners_.empty() ? std::string("a checkpoint")
                                              : std::string("the joining of another worker"));
    parked_.push_back(Parked{connection, worker});
    return {};
  }
  admit_now(connection, worker);
  return {};
}

void RescaleProtocol::admit_now(const std::shared_ptr<FramedConnection>& connection, const WorkerInfo& worker) {
  Membership next = members_.membership();
  if (next.owners.empty()) {
    next.owners = KeyGroupTable::dealt(next.key_groups, next.workers.size());
  }
  next.workers.push_back(worker);
  next.departed.resize(next.workers.size() - 1, false);
  next.departed.push_back(false);
  next.version += 1;
  std::size_t index = next.workers.size() - 1;
  if (!members_.add(next)) {
    connection->write(message(MessageType::reject).str("the cluster cannot take another worker").take());
    connection->close();
    refresh_changing();
    return;
  }
  members_.peer(index).control = connection;
  data_.on_members_added();
  Joiner joiner{index, {}, false};
  for (std::size_t i = 0; i < index; ++i) {
    if (members_.is_live(i)) {
      joiner.awaiting.insert(i);
    }
  }
  joiners_.push_back(std::move(joiner));
  std::size_t live = 0;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    live += members_.is_live(i) ? 1 : 0;
  }
  cluster_logger()->info("cluster: worker '{}' joins the running cluster ({} workers)", worker.name, live);
  for (std::size_t i = 1; i < index; ++i) {
    Membership theirs = next;
    theirs.self = i;
    send(i, encode_membership(theirs, MessageType::membership_update));
  }
  if (hooks_.on_members_changed) {
    Membership ours = next;
    ours.self = members_.self();
    hooks_.on_members_changed(std::move(ours));
  }
  formation_.grow(index);
}

void RescaleProtocol::on_channels_up(std::size_t index, std::size_t joiner_index) {
  auto joiner =
      std::find_if(joiners_.begin(), joiners_.end(), [&](const Joiner& j) { return j.index == joiner_index; });
  if (joiner == joiners_.end()) {
    return;
  }
  joiner->awaiting.erase(index);
  if (!joiner->awaiting.empty()) {
    return;
  }
  if (!joiner->told) {
    joiner->told = true;
    joiner->awaiting.insert(joiner->index);
    Membership its = members_.membership();
    its.self = joiner->index;
    its.restore_checkpoint = 0;  // a joiner starts empty: the key groups it gets bring their state
    send(joiner->index, encode_membership(its));
    members_.peer(joiner->index).has_membership = true;
    return;
  }
  std::size_t ready = joiner->index;
  joiners_.erase(joiner);
  joiner_ready(ready);
}

void RescaleProtocol::turn_away_joiners() {
  for (auto joiner = joiners_.begin(); joiner != joiners_.end();) {
    if (joiner->told) {
      ++joiner;
    } else {
      turn_away(joiner);
      joiner = joiners_.begin();
    }
  }
}

// The workers lose a member that never reached them and owned nothing: that is no loss to them either
// (ClusterCore::mark_lost).
void RescaleProtocol::turn_away(std::vector<Joiner>::iterator joiner) {
  std::size_t turned_away = joiner->index;
  joiners_.erase(joiner);
  members_.mark_departed(turned_away);
  cluster_logger()->info("cluster: worker '{}' is turned away: the cluster is stopping", members_.name_of(turned_away));
  auto connection = members_.peer(turned_away).control;
  connection->write(message(MessageType::reject).str("the cluster is stopping").take());
  connection->when_flushed([connection] { connection->close(); });
  refresh_changing();
}

// Every live worker reached the joiner and it reached them: it may go (its sources start; it owns no key group
// yet, so what it reads goes to the groups' owners), and the round that gives it its share can begin.
void RescaleProtocol::joiner_ready(std::size_t index) {
  send(index, message(MessageType::go).take());
  ready_joiners_.push_back(index);
  take_parked();  // joiners that came meanwhile join the same round
  maybe_start_round();
}

// The ready joiners' round takes the leavers of a shrink deferred by a checkpoint along.
void RescaleProtocol::maybe_start_round() {
  if (in_progress() || !joiners_.empty() || lifecycle_.phase != Phase::running) {
    return;
  }
  if (!ready_joiners_.empty() || (!deferred_leaving_.empty() && may_change())) {
    auto leaving = std::exchange(deferred_leaving_, {});
    start_round(std::set<std::size_t>(leaving.begin(), leaving.end()));
  }
}

// One joiner at a time opens its channels (a second one would hear of the first before the first formed).
void RescaleProtocol::take_parked() {
  while (!parked_.empty() && joiners_.empty() && !in_progress() && lifecycle_.phase == Phase::running && may_change()) {
    Parked waiting = std::move(parked_.front());
    parked_.erase(parked_.begin());
    if (!waiting.connection->closed()) {
      admit_now(waiting.connection, waiting.worker);
    }
  }
}

// ---- the round (the initializer) ----

void RescaleProtocol::start_round(std::set<std::size_t> leaving) {
  phase_ = RoundPhase::pausing;
  changing_.store(true);
  ++round_;
  round_began_ = std::chrono::steady_clock::now();
  leaving_ = std::move(leaving);
  awaiting_moved_.clear();
  ready_joiners_.clear();
  participants_.clear();
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (members_.is_live(i)) {
      participants_.insert(i);
    }
  }
  cluster_logger()->info("cluster: rescale {} begins: {} workers pause", round_, participants_.size());
  for (std::size_t i : participants_) {
    if (i != members_.self()) {
      send(i, message(MessageType::rescale_pause).u64(round_).take());
    }
  }
  if (hooks_.on_rescale_pause) {
    hooks_.on_rescale_pause(round_);
  }
  last_quiet_signature_.reset();
  poll_round();
}

void RescaleProtocol::poll_round() {
  ++poll_round_;
  poll_awaiting_.clear();
  poll_replies_.clear();
  poll_replies_[members_.self()] = poll_reply(poll_round_);
  for (std::size_t i : participants_) {
    if (i != members_.self() && !members_.lost(i)) {
      poll_awaiting_.insert(i);
      send(i, message(MessageType::rescale_poll).u64(poll_round_).take());
    }
  }
  if (poll_awaiting_.empty()) {
    finish_poll();
  }
}

PollReply RescaleProtocol::poll_reply(std::uint64_t round) const {
  return local_poll_reply(members_, round, hooks_.is_drained ? hooks_.is_drained() : true);
}

void RescaleProtocol::on_poll_reply(std::size_t index, const PollReply& reply) {
  if (!in_progress() || reply.round != poll_round_ || poll_awaiting_.erase(index) == 0) {
    return;
  }
  poll_replies_[index] = reply;
  if (poll_awaiting_.empty()) {
    finish_poll();
  }
}

// Quiet twice with the same counts: before the move, nothing is in flight and no source is read; after it, every
// handed-over group was restored.
void RescaleProtocol::finish_poll() {
  // The leavers count too: after the move they are departed, and what they handed over must be restored.
  std::optional<std::vector<std::uint64_t>> signature =
      quiet_signature(poll_replies_, [this](std::size_t i) { return participants_.count(i) > 0 && !members_.lost(i); });
  if (signature && last_quiet_signature_ == signature) {
    last_quiet_signature_.reset();
    if (phase_ == RoundPhase::pausing) {
      move();
    } else if (phase_ == RoundPhase::settling) {
      finish_round();
    }
    return;
  }
  bool confirm_at_once = signature.has_value();  // quiet once: the confirming round need not wait (the pause counts)
  last_quiet_signature_ = std::move(signature);
  if (confirm_at_once) {
    poll_round();
    return;
  }
  poll_timer_.expires_after(poll_interval);
  poll_timer_.async_wait([self = keep_alive(), round = round_](const boost::system::error_code& error) {
    if (!error && self->round_ == round && self->in_progress() && self->lifecycle_.phase == Phase::running) {
      self->poll_round();
    }
  });
}

void RescaleProtocol::move() {
  Membership next = members_.membership();
  if (next.owners.empty()) {
    next.owners = KeyGroupTable::dealt(next.key_groups, next.workers.size());
  }
  next.departed.resize(next.workers.size(), false);
  for (std::size_t i = 0; i < next.workers.size(); ++i) {
    next.departed[i] = next.departed[i] || leaving_.count(i) > 0 || !members_.is_live(i);
  }
  owners_before_ = next.owners;
  next.owners = KeyGroupTable::rebalanced(owners_before_, next.workers.size(), next.departed);
  next.version += 1;
  groups_moving_ = KeyGroupTable::moved(owners_before_, next.owners);
  phase_ = RoundPhase::moving;
  for (std::size_t i : leaving_) {
    members_.mark_departed(i);
  }
  next_ = next;
  cluster_logger()->info("cluster: rescale {}: the cluster is quiet; {} of {} key groups move", round_, groups_moving_,
                         next.key_groups);
  send_move();
}

void RescaleProtocol::send_move() {
  for (std::size_t i : participants_) {
    ++awaiting_moved_[i];
  }
  for (std::size_t i : participants_) {
    if (i != members_.self()) {
      Membership theirs = *next_;
      theirs.self = i;
      core::BigEndianWriter writer = message(MessageType::rescale_move);
      writer.u64(round_);
      write_membership(writer, theirs);
      send(i, writer.take());  // a leaver is departed by now: it must still hear its move
    }
  }
  if (hooks_.on_rescale_move) {
    Membership ours = *next_;
    ours.self = members_.self();
    hooks_.on_rescale_move(round_, std::move(ours));
  } else {
    moved(round_);
  }
}

// The others may have handed key groups to the lost worker, and it may have restored them or not: they kept a copy
// until the round is over, and a second move sends every group it was given back to its owner before the round
// (KeyGroupTable::without), so the cluster is as it was for them. The groups it owned before the round (a member
// lost, not a joiner) had their state with it: they go to the others, empty, and the loss is reported.
void RescaleProtocol::move_without(std::size_t lost) {
  Membership& next = *next_;
  next.departed.resize(next.workers.size(), false);
  next.departed[lost] = true;
  std::vector<std::uint16_t> owners =
      KeyGroupTable::without(owners_before_, next.owners, next.workers.size(), next.departed);
  if (owners == next.owners) {
    return;  // it was leaving, or owned nothing: nothing was handed to it
  }
  std::size_t back = KeyGroupTable::moved(next.owners, owners);
  next.owners = std::move(owners);
  next.version += 1;
  groups_moving_ = KeyGroupTable::moved(owners_before_, next.owners);
  phase_ = RoundPhase::moving;
  last_quiet_signature_.reset();
  poll_timer_.cancel();  // the settle's poll starts again once every worker answered this move
  ++poll_round_;
  poll_awaiting_.clear();
  cluster_logger()->warn("cluster: rescale {}: worker '{}' was lost during the move; its {} key groups go back", round_,
                         members_.name_of(lost), back);
  send_move();
}

void RescaleProtocol::on_moved(std::size_t index, std::uint64_t round) {
  auto awaited = awaiting_moved_.find(index);
  if (phase_ != RoundPhase::moving || round != round_ || awaited == awaiting_moved_.end()) {
    return;
  }
  if (--awaited->second == 0) {
    awaiting_moved_.erase(awaited);
  }
  if (awaiting_moved_.empty()) {
    phase_ = RoundPhase::settling;
    last_quiet_signature_.reset();
    poll_round();
  }
}

void RescaleProtocol::finish_round() {
  Membership next = *next_;
  next.self = members_.self();
  members_.update(next);
  next_.reset();
  auto pause = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - round_began_);
  std::size_t live = 0;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    live += members_.is_live(i) ? 1 : 0;
  }
  cluster_logger()->info("cluster: rescale {} done in {} ms: {} workers, {} key groups moved", round_, pause.count(),
                         live, groups_moving_);
  for (std::size_t i : participants_) {
    if (i == members_.self() || members_.lost(i) || !members_.peer(i).control) {
      continue;
    }
    if (leaving_.count(i) > 0 && config_.roll_back_on_loss) {
      // A recovery before a checkpoint without it would need it (its layout has it): it goes after that one.
      cluster_logger()->info("cluster: worker '{}' leaves the cluster once a checkpoint without it is complete",
                             members_.name_of(i));
      leavers_waiting_.emplace_back(i, next.version);
    } else if (leaving_.count(i) > 0) {
      tell_to_go(i);
    } else {
      members_.peer(i).control->write(message(MessageType::rescale_resume).u64(round_).take());
    }
  }
  phase_ = RoundPhase::idle;
  leaving_.clear();
  participants_.clear();
  if (hooks_.on_rescale_resume) {
    hooks_.on_rescale_resume(round_);
  }
  take_parked();
  maybe_start_round();
  refresh_changing();
}

void RescaleProtocol::tell_to_go(std::size_t index) {
  cluster_logger()->info("cluster: worker '{}' leaves the cluster", members_.name_of(index));
  members_.peer(index).control->write(message(MessageType::stop).take());
  members_.peer(index).control->write(message(MessageType::exit).take());
}

// ---- checkpoints and membership changes (the initializer) ----

// Dekker's handshake over two flags (seq_cst): each side raises its own, then looks at the other's; at most one goes
// on (both may back off: begin_checkpoint then posts resume_held_back).
bool RescaleProtocol::hold_for_checkpoint(std::uint64_t id) {
  if (checkpoint_held_.exchange(id) != no_hold) {
    // The previous checkpoint's hold is still there (its end waits on the strand): no change can be under way (a
    // changing_ seen now is may_change backing off), and releasing here would lift that hold too.
    return true;
  }
  if (changing_.load()) {
    release_checkpoint_hold(id);
    return false;
  }
  return true;
}

bool RescaleProtocol::may_change() {
  if (config_.roll_back_on_loss && !checkpointed_) {
    // A recovery needs a checkpoint of the membership that changes: the first one comes first (its mark also tells
    // the initializer's store that checkpoints without one are no longer complete: StoreConfig::unmarked_alone).
    return false;
  }
  changing_.store(true);
  if (checkpoint_held_.load() != no_hold) {
    refresh_changing();
    return false;
  }
  return true;
}

void RescaleProtocol::refresh_changing() {
  changing_.store(in_progress() || !joiners_.empty() || !ready_joiners_.empty());
}

void RescaleProtocol::checkpoint_began() { checkpoint_version_ = members_.membership().version; }

void RescaleProtocol::checkpoint_over(bool complete) {
  checkpointed_ = checkpointed_ || complete;
  if (complete) {
    std::erase_if(leavers_waiting_, [this](const std::pair<std::size_t, std::uint64_t>& leaver) {
      if (leaver.second > checkpoint_version_) {
        return false;
      }
      if (!members_.lost(leaver.first) && members_.peer(leaver.first).control) {
        tell_to_go(leaver.first);
      }
      return true;
    });
  }
  resume_held_back();
}

void RescaleProtocol::resume_held_back() {
  take_parked();
  maybe_start_round();
  refresh_changing();
}

// ---- a worker that is not the initializer ----

void RescaleProtocol::on_membership_update(Membership membership) {
  std::size_t index = members_.size();
  if (membership.workers.size() != index + 1 || !members_.add(membership)) {
    cluster_logger()->warn("cluster: a membership update with {} workers does not follow ours of {}; ignored",
                           membership.workers.size(), index);
    return;
  }
  data_.on_members_added();
  cluster_logger()->info("cluster: worker '{}' joins the running cluster", membership.workers.back().name);
  if (hooks_.on_members_changed) {
    hooks_.on_members_changed(membership);
  }
  formation_.grow(index);
}

void RescaleProtocol::on_pause(std::uint64_t round) {
  round_ = round;
  phase_ = RoundPhase::pausing;
  if (hooks_.on_rescale_pause) {
    hooks_.on_rescale_pause(round);
  }
}

void RescaleProtocol::on_move(std::uint64_t round, Membership next) {
  if (phase_ != RoundPhase::moving) {  // a second move in the round follows a loss
    owners_before_ = members_.membership().owners;
  }
  phase_ = RoundPhase::moving;
  for (std::size_t i = 0; i < next.workers.size(); ++i) {
    if (next.has_departed(i)) {
      members_.mark_departed(i);
    }
  }
  members_.update(next);
  if (hooks_.on_rescale_move) {
    hooks_.on_rescale_move(round, std::move(next));
  } else {
    moved(round);
  }
}

void RescaleProtocol::on_resume(std::uint64_t round) {
  phase_ = RoundPhase::idle;
  if (hooks_.on_rescale_resume) {
    hooks_.on_rescale_resume(round);
  }
}

// ---- both ----

void RescaleProtocol::on_channel_grown(std::size_t index) {
  if (config_.initializer) {
    on_channels_up(members_.self(), index);
  } else if (members_.peer(0).control) {
    members_.peer(0).control->write(message(MessageType::channels_up).u32(static_cast<std::uint32_t>(index)).take());
  }
}

void RescaleProtocol::moved(std::uint64_t round) {
  if (config_.initializer) {
    on_moved(members_.self(), round);
  } else if (members_.peer(0).control) {
    members_.peer(0).control->write(message(MessageType::rescale_moved).u64(round).take());
  }
}

bool RescaleProtocol::owned_key_groups(std::size_t index) const {
  if (phase_ == RoundPhase::moving || phase_ == RoundPhase::settling) {
    return std::find(owners_before_.begin(), owners_before_.end(), static_cast<std::uint16_t>(index)) !=
           owners_before_.end();
  }
  return members_.owns_key_groups(index);
}

void RescaleProtocol::on_peer_lost(std::size_t index) {
  if (!config_.rescale_refusal.empty() || config_.roll_back_on_loss) {
    // A cluster that cannot rescale has no joiners; one that rolls back closes and forms again (a lost member's
    // restarted process is a returning member meanwhile, not a departed one).
    if (!deferred_leaving_.empty()) {
      std::vector<std::string> names;
      for (std::size_t i : std::exchange(deferred_leaving_, {})) {
        names.push_back(members_.name_of(i));
      }
      cluster_logger()->warn(
          "cluster: the shrink of {} had not begun when worker '{}' was lost; the rollback forgets "
          "it: ask for it again",
          quoted_list(names), members_.name_of(index));
    }
    return;
  }
  if (!owned_key_groups(index)) {
    members_.peer(index).held_nothing = true;
    cluster_logger()->info("cluster: worker '{}' owned no key group yet: nothing of this worker's was lost with it",
                           members_.name_of(index));
  }
  if (!config_.initializer) {
    return;
  }
  // A joiner from now on is not to open a channel to it (its membership says so); status queries list it as missing.
  members_.mark_departed(index);
  for (auto joiner = joiners_.begin(); joiner != joiners_.end();) {
    if (joiner->index == index) {
      joiner = joiners_.erase(joiner);
      continue;
    }
    joiner->awaiting.erase(index);
    ++joiner;
  }
  std::erase(ready_joiners_, index);
  std::erase(deferred_leaving_, index);
  if (!in_progress() || participants_.erase(index) == 0) {
    take_parked();  // a joiner that waited for the lost one's channels
    maybe_start_round();
    refresh_changing();
    return;
  }
  bool awaited = poll_awaiting_.erase(index) > 0;
  poll_replies_.erase(index);
  awaiting_moved_.erase(index);  // it hands nothing over any more
  if (phase_ == RoundPhase::moving || phase_ == RoundPhase::settling) {
    move_without(index);
  }
  if (phase_ == RoundPhase::moving && awaiting_moved_.empty()) {
    phase_ = RoundPhase::settling;
    last_quiet_signature_.reset();
    poll_round();
  } else if (phase_ != RoundPhase::moving && awaited && poll_awaiting_.empty()) {
    finish_poll();
  }
}

// ---- shrinking ----

// The answer always comes later (posted), so that the caller's connection has paused before it resumes.
void RescaleProtocol::request_shrink(std::string_view json, ShrinkAnswer done) {
  auto answer_later = [this, &done](bool accepted, std::string answer) {
    asio::post(strand_, [done = std::move(done), accepted, answer = std::move(answer)] { done(accepted, answer); });
  };
  if (!lifecycle_.formed || !members_.ready()) {
    answer_later(false, "the cluster has not formed yet");
    return;
  }
  if (config_.initializer) {
    auto [accepted, answer] = shrink(json);
    answer_later(accepted, answer);
    return;
  }
  std::uint64_t id = ++next_shrink_id_;
  shrink_answers_[id] = std::move(done);
  members_.peer(0).control->write(message(MessageType::shrink_request).u64(id).str(json).take());
}

void RescaleProtocol::on_shrink_reply(std::uint64_t id, bool accepted, std::string answer) {
  auto waiting = shrink_answers_.find(id);
  if (waiting == shrink_answers_.end()) {
    return;
  }
  auto done = std::move(waiting->second);
  shrink_answers_.erase(waiting);
  done(accepted, std::move(answer));
}

void RescaleProtocol::on_shrink_request(std::size_t index, std::uint64_t id, std::string_view json) {
  auto [accepted, answer] = shrink(json);
  send(index, message(MessageType::shrink_reply).u64(id).u8(accepted ? 1 : 0).str(answer).take());
}

std::pair<bool, std::string> RescaleProtocol::shrink(std::string_view json) {
  std::set<std::size_t> leaving;
  auto [accepted, answer] = decide_shrink(json, leaving);
  if (!accepted) {
    cluster_logger()->warn("cluster: shrink refused: {}", answer);
  }
  if (accepted && !leaving.empty()) {
    std::vector<std::string> names;
    for (std::size_t i : leaving) {
      names.push_back(members_.name_of(i));
    }
    cluster_logger()->info("cluster: shrink: {} will leave", quoted_list(names));
    if (may_change()) {
      start_round(std::move(leaving));
    } else {
      cluster_logger()->info("cluster: the shrink's rescale begins once the checkpoint in progress is over");
      deferred_leaving_.assign(leaving.begin(), leaving.end());
    }
  }
  return {accepted, answer};
}

std::pair<bool, std::string> RescaleProtocol::decide_shrink(std::string_view json,
                                                            std::set<std::size_t>& leaving) const {
  static const std::string shape =
      "a shrink request is JSON {\"query\":bool,\"node_names\":[\"<worker>\",...],\"node_count\":<int>}";
  auto request = core::parse_json(json);
  if (!request || !request->is_object()) {
    return {false, shape};
  }
  bool query = request->value("query", false);
  std::vector<std::string> names;
  std::int64_t count = 0;
  try {
    if (request->contains("node_names") && !(*request)["node_names"].is_null()) {
      names = (*request)["node_names"].get<std::vector<std::string>>();
    }
    if (request->contains("node_count") && !(*request)["node_count"].is_null()) {
      count = (*request)["node_count"].get<std::int64_t>();
    }
  } catch (const nlohmann::json::exception&) {
    return {false, shape};
  }
  std::vector<std::size_t> eligible;  // may leave: live, not the initializer, not joining
  for (std::size_t i = 1; i < members_.size(); ++i) {
    bool joining = std::any_of(joiners_.begin(), joiners_.end(), [&](const Joiner& j) { return j.index == i; }) ||
                   std::find(ready_joiners_.begin(), ready_joiners_.end(), i) != ready_joiners_.end();
    if (members_.is_live(i) && !joining) {
      eligible.push_back(i);
    }
  }
  std::vector<std::string> eligible_names;
  for (std::size_t i : eligible) {
    eligible_names.push_back(members_.name_of(i));
  }
  if (!config_.rescale_refusal.empty()) {
    return {false, "the cluster cannot shrink while it runs: " + config_.rescale_refusal};
  }
  if (query) {
    return {true, shrink_answer_json(eligible_names)};
  }
  if (in_progress() || !joiners_.empty() || !ready_joiners_.empty() || !deferred_leaving_.empty()) {
    return {false, "a rescale is in progress; ask again when it is over"};
  }
  if (!names.empty()) {
    std::vector<std::string> unknown;
    for (const auto& name : names) {
      if (name == members_.name_of(0)) {
        return {false, "the initializer ('" + name + "') cannot leave the cluster"};
      }
      auto found = std::find(eligible_names.begin(), eligible_names.end(), name);
      if (found == eligible_names.end()) {
        unknown.push_back(name);
      } else {
        leaving.insert(eligible[static_cast<std::size_t>(found - eligible_names.begin())]);
      }
    }
    if (!unknown.empty()) {
      leaving.clear();
      std::vector<std::string> all;
      for (std::size_t i = 0; i < members_.size(); ++i) {
        if (members_.is_live(i)) {
          all.push_back(members_.name_of(i));
        }
      }
      return {false, "no worker named " + quoted_list(unknown) +
                         " can leave (the cluster's workers: " + quoted_list(all) + "); nothing changes"};
    }
  } else {
    if (count <= 0) {
      return {false, "name the workers to leave (node_names) or how many (node_count above 0)"};
    }
    if (eligible.empty()) {
      return {false, "no worker can leave: the initializer is the only worker, and it cannot leave"};
    }
    // The workers that joined last leave first.
    for (auto i = eligible.rbegin(); i != eligible.rend() && leaving.size() < static_cast<std::size_t>(count); ++i) {
      leaving.insert(*i);
    }
    if (leaving.size() < static_cast<std::size_t>(count)) {
      cluster_logger()->info("cluster: shrink asked for {} workers to leave; {} can (the initializer cannot leave)",
                             count, leaving.size());
    }
  }
  std::vector<std::string> leaving_names;
  for (std::size_t i : leaving) {
    leaving_names.push_back(members_.name_of(i));
  }
  return {true, shrink_answer_json(leaving_names)};
}

}  // namespace roo::cluster
