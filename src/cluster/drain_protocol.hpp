#pragma once

#include "cluster_asio.hpp"
#include "cluster_lifecycle.hpp"
#include "member_table.hpp"
#include "owned_by_core.hpp"
#include "wire.hpp"

#include "roo/cluster/cluster.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace roo::cluster {

/// Stop, drain and exit (docs/cluster.md): the initializer tells every worker to stop, polls them every 20 ms
/// until the cluster is quiet twice in a row (or drain_timeout passes: then it names who was not drained) and says
/// exit; a worker follows the initializer's stop, poll and exit frames; a worker that lost the initializer drains
/// and exits on its own.
///
/// Threads: everything on the core's strand. Owns the poll timer, the rounds and whether on_stop/on_exit ran.
/// Reads the MemberTable (liveness, control connections, byte counters for the poll replies) and moves the
/// lifecycle's phase on (running, stopping, exited). ClusterCore routes the stop-request, poll, poll-reply, stop
/// and exit frames here and tells it of peer losses (on_peer_lost).
class DrainProtocol : public OwnedByCore<DrainProtocol> {
 public:
  /// `stopping`: the initializer, as the stop begins, before any worker hears of it (RescaleProtocol turns away the
  /// joiners still forming).
  DrainProtocol(Strand& strand, const ClusterConfig& config, const ClusterHooks& hooks, Lifecycle& lifecycle,
                MemberTable& members, std::function<void()> stopping)
      : strand_(strand),
        config_(config),
        hooks_(hooks),
        lifecycle_(lifecycle),
        members_(members),
        stopping_(std::move(stopping)),
        poll_timer_(strand) {}

  /// Cluster::request_stop(): the initializer stops the cluster; a worker asks the initializer to.
  void request_stop();
  /// The cluster formed: carry on a stop requested while it formed.
  void on_formed();
  /// The initializer: a worker's stop-request.
  void on_stop_request();
  /// The initializer: a worker's answer to poll round `reply.round`.
  void on_poll_reply(std::size_t index, const PollReply& reply);
  /// A worker: the initializer's stop.
  void on_stop();
  /// A worker: the initializer's exit.
  void on_exit();
  /// This worker's answer to poll round `round`: drained, and the bytes sent to and processed from every worker.
  [[nodiscard]] PollReply local_poll_reply(std::uint64_t round) const;
  /// `index` was lost: the initializer waits for it no more; a worker that lost the initializer drains alone.
  void on_peer_lost(std::size_t index);
  /// The initializer was lost, and this worker stops and exits by itself.
  [[nodiscard]] bool alone() const { return alone_; }
  void close() { poll_timer_.cancel(); }

 private:
  void begin_stop();
  void run_on_stop();
  void poll_round();
  void finish_round();
  void broadcast_exit();
  void run_on_exit();
  void drain_alone();
  void arm_poll_timer();
  void give_up_draining();

  Strand& strand_;
  const ClusterConfig& config_;
  const ClusterHooks& hooks_;
  Lifecycle& lifecycle_;
  MemberTable& members_;
  std::function<void()> stopping_;

  bool on_stop_called_ = false;
  bool on_exit_called_ = false;
  Timer poll_timer_;
  std::chrono::steady_clock::time_point drain_deadline_{};  // initializer: begin_stop() + drain_timeout
  std::uint64_t poll_round_ = 0;
  std::set<std::size_t> poll_awaiting_;
  std::map<std::size_t, PollReply> poll_replies_;
  std::optional<std::vector<std::uint64_t>> last_quiet_signature_;
  std::size_t drained_alone_rounds_ = 0;
  bool alone_ = false;              // the initializer is lost: this worker drains and exits by itself
  bool before_exit_asked_ = false;  // the initializer: hooks.before_exit was called; exit waits for its proceed
};

}  // namespace roo::cluster
