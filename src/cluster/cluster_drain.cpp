#include "cluster_core.hpp"
#include "cluster_log.hpp"

#include <boost/asio/post.hpp>

#include <memory>

namespace roo::cluster {
namespace {

constexpr std::chrono::milliseconds poll_interval{20};
constexpr std::chrono::milliseconds exit_flush_limit{1000};

}  // namespace

// The initializer: tell every live worker to stop, stop here, then poll until the cluster is quiet.
void ClusterCore::begin_stop() {
  if (phase_ != Phase::running) {
    return;
  }
  phase_ = Phase::stopping;
  drain_deadline_ = std::chrono::steady_clock::now() + config_.drain_timeout;
  cluster_logger()->info("cluster: stopping every worker");
  for (std::size_t i = 1; i < peers_.size(); ++i) {
    if (is_live(i)) {
      peers_[i].control->write(message(MessageType::stop).take());
    }
  }
  run_on_stop();
  arm_poll_timer();
}

void ClusterCore::arm_poll_timer() {
  poll_timer_.expires_after(poll_interval);
  poll_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (!error) {
      self->poll_round();
    }
  });
}

void ClusterCore::run_on_stop() {
  if (on_stop_called_) {
    return;
  }
  on_stop_called_ = true;
  if (hooks_.on_stop) {
    hooks_.on_stop();
  }
}

void ClusterCore::run_on_exit() {
  if (on_exit_called_) {
    return;
  }
  on_exit_called_ = true;
  if (hooks_.on_exit) {
    hooks_.on_exit();
  }
}

PollReply ClusterCore::local_poll_reply(std::uint64_t round) const {
  PollReply reply;
  reply.round = round;
  reply.drained = hooks_.is_drained ? hooks_.is_drained() : true;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    reply.sent.push_back(sent_bytes_[i]);
    reply.processed.push_back(processed_bytes_[i]);
  }
  return reply;
}

// A round starts only when the last one was answered; a worker that does not answer (its executor is stuck in user
// code, which also serves its connections) holds the rounds up, until the drain deadline ends the wait.
void ClusterCore::poll_round() {
  if (phase_ != Phase::stopping) {
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
  for (std::size_t i = 1; i < peers_.size(); ++i) {
    if (is_live(i)) {
      poll_awaiting_.insert(i);
      peers_[i].control->write(message(MessageType::poll).u64(poll_round_).take());
    }
  }
  if (poll_awaiting_.empty()) {
    finish_round();
  }
}

void ClusterCore::on_poll_reply(std::size_t index, const PollReply& reply) {
  if (phase_ != Phase::stopping || reply.round != poll_round_ || poll_awaiting_.erase(index) == 0) {
    return;
  }
  poll_replies_[index] = reply;
  if (poll_awaiting_.empty()) {
    finish_round();
  }
}

// Quiet means: every live worker is drained, and for every pair of live workers the bytes one sent the other equal
// the bytes the other processed from it. Exit once two consecutive rounds are quiet with the same counts.
void ClusterCore::finish_round() {
  if (phase_ != Phase::stopping) {
    return;
  }
  if (before_exit_asked_) {
    arm_poll_timer();  // only to watch the drain deadline
    return;
  }
  bool quiet = true;
  std::vector<std::uint64_t> signature;
  for (const auto& [i, reply] : poll_replies_) {
    if (!is_live(i)) {
      continue;
    }
    quiet = quiet && reply.drained;
    for (const auto& [j, other] : poll_replies_) {
      if (i != j && is_live(j)) {
        quiet = quiet && reply.sent[j] == other.processed[i];
        signature.push_back(reply.sent[j]);
      }
    }
  }
  if (quiet && last_quiet_signature_ == signature) {
    if (hooks_.before_exit) {
      before_exit_asked_ = true;
      arm_poll_timer();
      std::weak_ptr<ClusterCore> weak = weak_from_this();
      hooks_.before_exit([weak] {
        if (auto self = weak.lock()) {
          asio::post(self->strand_, [self] {
            if (self->phase_ == Phase::stopping) {
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
void ClusterCore::give_up_draining() {
  std::string names;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    auto reply = poll_replies_.find(i);
    bool drained = i != membership_.self && poll_awaiting_.count(i) == 0 && reply != poll_replies_.end() &&
                   reply->second.drained;
    if (i == membership_.self) {
      drained = hooks_.is_drained ? hooks_.is_drained() : true;
    }
    if (is_live(i) && !drained) {
      peers_[i].undrained = i != membership_.self;
      names += (names.empty() ? "'" : ", '") + name_of(i) + "'";
    }
  }
  cluster_logger()->warn("cluster: the drain timed out after {} ms with {}; exiting anyway",
                         config_.drain_timeout.count(),
                         names.empty() ? "events still in flight between workers" : "not drained: " + names);
  broadcast_exit();
}

// Exit goes out first; this worker runs on_exit once every exit frame was written (or after exit_flush_limit), so
// the others learn of it before this process can go away and break their connections.
void ClusterCore::broadcast_exit() {
  phase_ = Phase::exited;
  auto pending = std::make_shared<std::size_t>(1);
  auto flushed = [self = shared_from_this(), pending] {
    if (--*pending == 0) {
      self->poll_timer_.cancel();
      self->run_on_exit();
    }
  };
  for (std::size_t i = 1; i < peers_.size(); ++i) {
    if (is_live(i)) {
      ++*pending;
      peers_[i].control->write(message(MessageType::exit).take());
      peers_[i].control->when_flushed(flushed);
    }
  }
  flushed();
  if (!on_exit_called_) {
    poll_timer_.expires_after(exit_flush_limit);
    poll_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
      if (!error) {
        self->run_on_exit();
      }
    });
  }
}

// The initializer is gone (a documented limitation): stop here, wait until this worker is drained, and exit.
void ClusterCore::drain_alone() {
  if (phase_ == Phase::exited || phase_ == Phase::closed) {
    return;
  }
  if (!alone_) {
    alone_ = true;
    phase_ = Phase::stopping;
    cluster_logger()->warn("cluster: the initializer is gone; this worker stops on its own");
  }
  run_on_stop();
  bool drained = hooks_.is_drained ? hooks_.is_drained() : true;
  drained_alone_rounds_ = drained ? drained_alone_rounds_ + 1 : 0;
  if (drained_alone_rounds_ >= 2) {
    phase_ = Phase::exited;
    run_on_exit();
    return;
  }
  poll_timer_.expires_after(poll_interval);
  poll_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (!error) {
      self->drain_alone();
    }
  });
}

}  // namespace roo::cluster
