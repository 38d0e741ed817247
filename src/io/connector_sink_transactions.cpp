#include "connector_sink_core.hpp"
#include "connector_sink_rules.hpp"
#include "io_log.hpp"

namespace roo::io {

// The two-phase commit of a connector sink with checkpoints (docs/connectors-sink.md). The rounds: PHASE1 for the
// bytes [voted_end(), cut) at prepare(n), the sink's vote, PHASE2 commit at commit(n) for every round up to n. A round
// that fails is aborted at the sink; its bytes stay here and go again, in the next round.

namespace asio = boost::asio;

namespace {

constexpr std::uint64_t output_stream = 1;

}  // namespace

std::uint64_t ConnectorSinkCore::voted_end() const { return prepared_.empty() ? committed_ : prepared_.back().end; }

std::vector<std::uint64_t> ConnectorSinkCore::prepared_checkpoints() const {
  std::vector<std::uint64_t> checkpoints;
  checkpoints.reserve(prepared_.size());
  for (const Round& round : prepared_) {
    checkpoints.push_back(round.checkpoint);
  }
  return checkpoints;
}

// The worker calls recover() (after a restart, or a rollback) before any output; output, a flush or a prepare without
// one means none comes: no checkpoint was restored, and the sink's uncommitted transactions can be resolved.
void ConnectorSinkCore::learn_recovery_point() {
  if (recovery_known_) {
    return;
  }
  recovery_known_ = true;
  if (phase_ == Phase::awaiting_recovery) {
    list_uncommitted();
  }
}

void ConnectorSinkCore::recover(std::uint64_t checkpoint, Sink::Done done) {
  asio::post(strand_, [self = shared_from_this(), checkpoint, done = std::move(done)]() mutable {
    if (self->closed_) {
      done(fmt::format("{}: the sink stopped", self->identity_));
      return;
    }
    self->last_complete_ = std::max(self->last_complete_, checkpoint);
    self->recovery_known_ = true;
    self->recoveries_.push_back(std::move(done));
    if (self->phase_ == Phase::awaiting_recovery) {
      self->list_uncommitted();
    } else if (self->phase_ == Phase::awaiting_notify_ack || self->phase_ == Phase::ready) {
      // Resolved before this checkpoint was known: a new session resolves again.
      self->close_connection();
      self->connect();
    }
  });
}

void ConnectorSinkCore::finish_recoveries(const std::string& error) {
  for (auto& done : std::exchange(recoveries_, {})) {
    done(error);
  }
}

void ConnectorSinkCore::prepare(std::uint64_t checkpoint, Sink::Prepared done) {
  asio::post(strand_, [self = shared_from_this(), checkpoint, done = std::move(done)]() mutable {
    self->learn_recovery_point();
    if (self->closed_) {
      done(fmt::format("{}: the sink stopped", self->identity_), {});
      return;
    }
    self->fail_round(fmt::format("{}: checkpoint {} began before the sink voted", self->identity_, checkpoint));
    std::uint64_t start = self->voted_end();
    std::uint64_t cut = self->output_.end();
    if (cut == start) {
      done({}, {self->marker_});  // nothing new since the last round: no transaction
      return;
    }
    self->open_ = OpenRound{.round = Round{.checkpoint = checkpoint, .start = start, .end = cut},
                            .done = std::move(done),
                            .phase1_sent = false,
                            .phase1_wire_end = 0,
                            .phase1_taken = false,
                            .written_at_arming = 0,
                            .arming = 0};
    self->arm_round_timer();
    self->send_records();
    self->send_phase1_when_ready();
  });
}

// A round's patience. Its PHASE1 follows the records it covers, so while the socket still takes the round's bytes
// the round waits (a slow sink is not a dead one, and backpressure already bounds what waits ahead of PHASE1); it
// fails after prepare_timeout with no byte taken. The socket taking PHASE1 starts the clock once more: from then on
// prepare_timeout is the sink's time to read what its socket holds and vote, never more (the sink vote's deadline
// must stay well inside the coordinator's wait for the worker).
void ConnectorSinkCore::arm_round_timer() {
  open_->written_at_arming = written_ever_;
  std::uint64_t arming = ++open_->arming;
  prepare_timer_.expires_after(config_.prepare_timeout);
  prepare_timer_.async_wait([self = shared_from_this(), checkpoint = open_->round.checkpoint,
                             arming](const boost::system::error_code& error) {
    // An expiry already queued when the timer was armed again runs too: only the latest arming counts.
    if (error || !self->open_ || self->open_->round.checkpoint != checkpoint || self->open_->arming != arming) {
      return;
    }
    bool sent = self->open_->phase1_sent;
    if (self->phase_ == Phase::ready && !self->open_->phase1_taken &&
        self->written_ever_ > self->open_->written_at_arming) {
      self->arm_round_timer();  // the round's bytes still go out
      return;
    }
    self->fail_round(fmt::format("{}: no vote on checkpoint {} within {} ms{}", self->identity_, checkpoint,
                                 self->config_.prepare_timeout.count(), self->unsent_phase1_reason()));
    if (sent) {
      // The sink may still hold the round prepared: a new session aborts it (resolve_uncommitted).
      self->close_connection();
      self->connect();
    }
  });
}

// Why a round's PHASE1 was never sent: the session is not up, or the sink has not taken the round's records yet (a
// sink slower than the output: PHASE1 follows the records it covers).
std::string ConnectorSinkCore::unsent_phase1_reason() const {
  if (!open_ || open_->phase1_sent) {
    return {};
  }
  if (phase_ != Phase::ready) {
    return fmt::format(" (not connected: {})", last_error_);
  }
  return fmt::format(" (its PHASE1 still waits behind {} bytes of output the sink stopped taking)",
                     open_->round.end - std::min(sent_, open_->round.end));
}

void ConnectorSinkCore::send_phase1_when_ready() {
  if (!open_ || open_->phase1_sent || phase_ != Phase::ready || sent_ < open_->round.end) {
    return;
  }
  Round& round = open_->round;
  round.start = voted_end();  // a reconnect may have given up rounds the sink lost
  open_->phase1_sent = true;
  send_two_phase(
      connector::Phase1{.txn_id = transaction_id(config_.stream_name, round.checkpoint),
                        .where = {connector::WhereRange{
                            .stream_id = output_stream, .start_offset = round.start, .end_offset = round.end}}});
  open_->phase1_wire_end = wire_queued_;
}

// PHASE1 and the wire counters belong to one connection: losing it fails the round (lose_connection).
void ConnectorSinkCore::start_vote_clock_once_phase1_taken() {
  if (open_ && open_->phase1_sent && !open_->phase1_taken && wire_written_ >= open_->phase1_wire_end) {
    open_->phase1_taken = true;
    arm_round_timer();
  }
}

void ConnectorSinkCore::on_vote(const connector::Phase1Reply& reply) {
  if (!open_ || !open_->phase1_sent || reply.txn_id != transaction_id(config_.stream_name, open_->round.checkpoint)) {
    return;  // a vote on a round given up
  }
  if (reply.commit) {
    prepare_timer_.cancel();
    prepared_.push_back(open_->round);
    auto done = std::move(open_->done);
    open_.reset();
    done({}, {marker_});
    send_records();
    maybe_finish_stop();
    return;
  }
  Round round = open_->round;
  send_two_phase(connector::Phase2{.txn_id = reply.txn_id, .commit = false});
  sent_ = round.start;  // the sink drops the round's bytes; they go again before the next PHASE1
  fail_round(fmt::format("{}: the sink voted to abort the output of checkpoint {} (bytes {} to {})", identity_,
                         round.checkpoint, round.start, round.end));
}

void ConnectorSinkCore::fail_round(const std::string& why) {
  if (!open_) {
    return;
  }
  prepare_timer_.cancel();
  auto done = std::move(open_->done);
  open_.reset();
  done(why, {});
  send_records();
  maybe_finish_stop();
}

void ConnectorSinkCore::commit(std::uint64_t checkpoint, Sink::Done done) {
  asio::post(strand_, [self = shared_from_this(), checkpoint, done = std::move(done)]() mutable {
    self->last_complete_ = std::max(self->last_complete_, checkpoint);
    // Before the session resolved the sink's uncommitted transactions, its resolution commits these (they are
    // <= last_complete_); after it, they are sent here.
    bool send_now = self->phase_ == Phase::awaiting_notify_ack || self->phase_ == Phase::ready;
    while (!self->prepared_.empty() && self->prepared_.front().checkpoint <= checkpoint) {
      const Round& round = self->prepared_.front();
      if (send_now) {
        self->send_two_phase(
            connector::Phase2{.txn_id = transaction_id(self->config_.stream_name, round.checkpoint), .commit = true});
      }
      self->committed_ = round.end;
      self->prepared_.pop_front();
    }
    self->budget_.release(self->output_.release_before(self->committed_));
    done({});
    self->maybe_finish_stop();
  });
}

void ConnectorSinkCore::abort() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->closed_) {
      return;
    }
    // A rollback: what was not committed is produced again after the recovery. The rounds the sink holds prepared
    // are resolved by the next session, once recover() said which checkpoint the worker restored.
    self->roll_back("rolled back");
    self->placed_ = false;  // the recovery places the stream where the restored checkpoint's output ends
  });
}

void ConnectorSinkCore::roll_back(const std::string& why) {
  fail_round(fmt::format("{}: {}", identity_, why));
  prepared_.clear();
  budget_.release(output_.drop_from(committed_));
  for (auto& [target, done] : std::exchange(flushes_, {})) {
    done(fmt::format("{}: {} before the peer had everything", identity_, why));
  }
  recovery_known_ = false;
  close_connection();
  connect();
}

// A leaving worker's output that no complete checkpoint holds goes to a worker that stays (docs/connectors-sink.md,
// "Growing and shrinking"). It is what lies past the committed end: the rounds the sink holds prepared
// for checkpoints given up, the bytes sent since, those still queued. Posted after any commit asked before, so the
// rounds of complete checkpoints are committed here already.
void ConnectorSinkCore::hand_off(Sink::Prepared done) {
  asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->closed_) {
      done(fmt::format("{}: the sink stopped", self->identity_), {});
      return;
    }
    Sink::SharedBatches records = self->output_.batches_from(self->committed_);
    self->roll_back("handed its output over");
    self->sent_ = self->committed_;
    self->acked_ = std::min(self->acked_, self->committed_);
    if (self->closed_) {
      done(fmt::format("{}: the sink stopped", self->identity_), {});
      return;
    }
    // Then as a recovery to the last complete checkpoint: the new session commits this stream's rounds up to it (a
    // PHASE2 commit that went down with a connection included) and aborts the rest, so the sink keeps none of
    // `records`. Only then do they go (on_notify_ack), or the stayer's stream and this one could both commit them.
    self->recovery_known_ = true;
    self->handed_off_ = [self, records = std::move(records), done = std::move(done)](std::string error) {
      if (!error.empty()) {
        done(error, {});
        return;
      }
      io_logger()->info(
          "{}: handed {} uncommitted batches to a worker that stays; stream '{}' keeps its committed {} bytes",
          self->identity_, records.size(), self->config_.stream_name, self->committed_);
      done({}, records);
    };
  });
}

// The stream must not end past this process's committed output: a round it gave up, prepared late at the sink from
// frames of the closed connection (a slow sink), would otherwise stay there undecided while its records also went to
// the stayer. Such a hand-off fails (false): the leaver stops, and the rollback's recovery resolves the stream. A sink
// that ends before it (one that echoes the NOTIFY's point of reference, as the shipped sinks do, or lost output) is
// at least once anyway: on_notify_ack warns, and the hand-off goes on.
bool ConnectorSinkCore::finish_hand_off(std::uint64_t sink_end, bool placed_before) {
  if (!handed_off_) {
    return true;
  }
  auto done = std::exchange(handed_off_, {});
  if (placed_before && sink_end > committed_) {
    done(fmt::format("{}: after the hand-off the sink's stream '{}' ends at byte {}, past its committed output ({})",
                     identity_, config_.stream_name, sink_end, committed_));
    return false;
  }
  done({});
  return true;
}

}  // namespace roo::io
