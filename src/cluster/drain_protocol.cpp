#include "drain_protocol.hpp"

#include "cluster_log.hpp"
#include "quiet_cluster.hpp"

#include <boost/asio/post.hpp>

#include <memory>

namespace roo::cluster {
namespace {

constexpr std::chrono::milliseconds poll_interval{20};
constexpr std::chrono::milliseconds exit_flush_limit{1000};

}  // namespace

void DrainProtocol::request_stop() {
  if (lifecycle_.phase == Phase::exited || lifecycle_.phase == Phase::closed || lifecycle_.stop_requested) {
    return;
  }
  lifecycle_.stop_requested = true;
  if (!lifecycle_.formed) {
    return;  // on_formed() carries it on
  }
  if (config_.initializer) {
    begin_stop();
  } else if (members_.is_live(0) && members_.peer(0).control) {
    members_.peer(0).control->write(message(MessageType::stop_request).take());
  }
}

void DrainProtocol::on_formed() {
  if (lifecycle_.stop_requested) {
    if (config_.initializer) {
      begin_stop();
    } else if (members_.is_live(0)) {
      members_.peer(0).control->write(message(MessageType::stop_request).take());
    }
  }
}

void DrainProtocol::on_stop_request() {
  lifecycle_.stop_requested = true;
  if (lifecycle_.formed) {
    begin_stop();
  }
}

void DrainProtocol::on_stop() {
  if (lifecycle_.phase == Phase::running) {
    lifecycle_.phase = Phase::stopping;
  }
  run_on_stop();
}

void DrainProtocol::on_exit() {
  lifecycle_.phase = Phase::exited;
  run_on_exit();
}

void DrainProtocol::on_peer_lost(std::size_t index) {
  if (config_.initializer) {
    if (poll_awaiting_.erase(index) > 0 && poll_awaiting_.empty()) {
      finish_round();
    }
  } else if (index == 0) {
    drain_alone();
  }
}

// The initializer: tell every live worker to stop, stop here, then poll until the cluster is quiet.
void DrainProtocol::begin_stop() {
  if (lifecycle_.phase != Phase::running) {
    return;
  }
  lifecycle_.phase = Phase::stopping;
  drain_deadline_ = std::chrono::steady_clock::now() + config_.drain_timeout;
  cluster_logger()->info("cluster: stopping every worker");
  if (stopping_) {
    stopping_();
  }
  for (std::size_t i = 1; i < members_.size(); ++i) {
    if (members_.hears_cluster(i)) {
      members_.peer(i).control->write(message(MessageType::stop).take());
    }
  }
  run_on_stop();
  arm_poll_timer();
}

void DrainProtocol::arm_poll_timer() {
  poll_timer_.expires_after(poll_interval);
  poll_timer_.async_wait([self = keep_alive()](const boost::system::error_code& error) {
    if (!error) {
      self->poll_round();
    }
  });
}

void DrainProtocol::run_on_stop() {
  if (on_stop_called_) {
    return;
  }
  on_stop_called_ = true;
  if (hooks_.on_stop) {
    hooks_.on_stop();
  }
}

void DrainProtocol::run_on_exit() {
  if (on_exit_called_) {
    return;
  }
  on_exit_called_ = true;
  if (hooks_.on_exit) {
    hooks_.on_exit();
  }
}

PollReply DrainProtocol::local_poll_reply(std::uint64_t round) const {
  return cluster::local_poll_reply(members_, round, hooks_.is_drained ? hooks_.is_drained() : true);
}

// A round starts only when the last one was answered; a worker that does not answer (its executor is stuck in user
// code, which also serves its connections) holds the rounds up, until the drain deadline ends the wait.
void DrainProtocol::poll_round() {
  if (lifecycle_.phase != Phase::stopping) {
    return;
  }
  if (std::chrono::steady_clock::now() >= drain_deadline_) {
    give_up_draining();
    return;
  }
  arm_poll_timer();  // looks at the deadline again while this round waits
  if (!poll_awaiting_.empty() || before_exit_asked_) {
    return;
  }
  ++poll_round_;
  poll_awaiting_.clear();
  poll_replies_.clear();
  poll_replies_[0] = local_poll_reply(poll_round_);
  for (std::size_t i = 1; i < members_.size(); ++i) {
    if (members_.hears_cluster(i)) {
      poll_awaiting_.insert(i);
      members_.peer(i).control->write(message(MessageType::poll).u64(poll_round_).take());
    }
  }
  if (poll_awaiting_.empty()) {
    finish_round();
  }
}

void DrainProtocol::on_poll_reply(std::size_t index, const PollReply& reply) {
  if (lifecycle_.phase != Phase::stopping || reply.round != poll_round_ || poll_awaiting_.erase(index) == 0) {
    return;
  }
  poll_replies_[index] = reply;
  if (poll_awaiting_.empty()) {
    finish_round();
  }
}

// Quiet means: every live worker is drained, and for every pair of live workers the bytes one sent the other equal
// the bytes the other processed from it. Exit once two consecutive rounds are quiet with the same counts.
void DrainProtocol::finish_round() {
  if (lifecycle_.phase != Phase::stopping) {
    return;
  }
  if (before_exit_asked_) {
    arm_poll_timer();  // only to watch the drain deadline
    return;
  }
  std::optional<std::vector<std::uint64_t>> signature =
      quiet_signature(poll_replies_, [this](std::size_t i) { return members_.is_live(i); });
  bool quiet = signature.has_value();
  if (quiet && last_quiet_signature_ == signature) {
    if (hooks_.before_exit) {
      before_exit_asked_ = true;
      arm_poll_timer();
      std::weak_ptr<DrainProtocol> weak = this->weak();
      hooks_.before_exit([weak] {
        if (auto self = weak.lock()) {
          asio::post(self->strand_, [self] {
            if (self->lifecycle_.phase == Phase::stopping) {
              cluster_logger()->info("cluster: every worker is drained; exiting");
              self->broadcast_exit();
            }
          });
        }
      });
      return;
    }
    cluster_logger()->info("cluster: every worker is drained; exiting");
    broadcast_exit();
    return;
  }
  last_quiet_signature_.reset();
  if (quiet) {
    last_quiet_signature_ = std::move(signature);
  }
  arm_poll_timer();
}

// The drain timed out: the workers still busy (or silent) are named, each worker reports at exit what it sent and
// was never processed, and the cluster exits anyway.
void DrainProtocol::give_up_draining() {
  std::string names;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    auto reply = poll_replies_.find(i);
    bool drained =
        i != members_.self() && poll_awaiting_.count(i) == 0 && reply != poll_replies_.end() && reply->second.drained;
    if (i == members_.self()) {
      drained = hooks_.is_drained ? hooks_.is_drained() : true;
    }
    if ((i == members_.self() || members_.hears_cluster(i)) && !drained) {  // not a joiner without its membership
      members_.peer(i).undrained = i != members_.self();
      names += (names.empty() ? "'" : ", '") + members_.name_of(i) + "'";
    }
  }
  cluster_logger()->warn("cluster: the drain timed out after {} ms with {}; exiting anyway",
                         config_.drain_timeout.count(),
                         names.empty() ? "events still in flight between workers" : "not drained: " + names);
  broadcast_exit();
}

// Exit goes out first; this worker runs on_exit once every exit frame was written (or after exit_flush_limit), so
// the others learn of it before this process can go away and break their connections.
void DrainProtocol::broadcast_exit() {
  lifecycle_.phase = Phase::exited;
  auto pending = std::make_shared<std::size_t>(1);
  auto flushed = [self = keep_alive(), pending] {
    if (--*pending == 0) {
      self->poll_timer_.cancel();
      self->run_on_exit();
    }
  };
  for (std::size_t i = 1; i < members_.size(); ++i) {
    if (members_.hears_cluster(i)) {
      ++*pending;
      members_.peer(i).control->write(message(MessageType::exit).take());
      members_.peer(i).control->when_flushed(flushed);
    }
  }
  flushed();
  if (!on_exit_called_) {
    poll_timer_.expires_after(exit_flush_limit);
    poll_timer_.async_wait([self = keep_alive()](const boost::system::error_code& error) {
      if (!error) {
        self->run_on_exit();
      }
    });
  }
}

// The initializer is gone (a documented limitation): stop here, wait until this worker is drained, and exit.
void DrainProtocol::drain_alone() {
  if (lifecycle_.phase == Phase::exited || lifecycle_.phase == Phase::closed) {
    return;
  }
  if (!alone_) {
    alone_ = true;
    lifecycle_.phase = Phase::stopping;
    cluster_logger()->warn("cluster: the initializer is gone; this worker stops on its own");
  }
  run_on_stop();
  bool drained = hooks_.is_drained ? hooks_.is_drained() : true;
  drained_alone_rounds_ = drained ? drained_alone_rounds_ + 1 : 0;
  if (drained_alone_rounds_ >= 2) {
    lifecycle_.phase = Phase::exited;
    run_on_exit();
    return;
  }
  poll_timer_.expires_after(poll_interval);
  poll_timer_.async_wait([self = keep_alive()](const boost::system::error_code& error) {
    if (!error) {
      self->drain_alone();
    }
  });
}

}  // namespace roo::cluster
