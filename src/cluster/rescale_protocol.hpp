#pragma once

#include "cluster_asio.hpp"
#include "cluster_lifecycle.hpp"
#include "connection_factory.hpp"
#include "data_channels.hpp"
#include "member_table.hpp"
#include "owned_by_core.hpp"
#include "wire.hpp"

#include "roo/cluster/cluster.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace roo::cluster {

class Formation;

/// Growing and shrinking a running cluster (docs/cluster.md, "Growing and shrinking"). The initializer admits a
/// worker that says hello after formation (a joiner), has every worker open a data channel to it, then sends it the
/// membership so that it opens its own to every worker, and once they are up runs a rescale round: pause (no worker
/// takes source input), wait until the cluster is quiet (the drain's poll: everyone drained, every byte sent processed,
/// twice the same), move (each worker hands the key groups it loses to their new owners, over the data channels, and
/// routes by the new owners), wait until quiet again (every handed-over group restored), resume. A shrink is the same
/// round with the leavers' groups moved away; the leavers are then told stop and exit. One round at a time: joiners and
/// shrink requests that come during one wait for its end.
///
/// Threads: everything on the core's strand. Owns the round (its phase, participants, poll replies, timer), the
/// joiners still opening channels, the parked hellos and the shrink requests forwarded to the initializer. Writes the
/// MemberTable (add, update, departed); has Formation open data channels to a joiner and DataChannels take it in;
/// calls the runtime's rescale hooks. ClusterCore routes the rescale control frames here, a late hello
/// (FormationRoutes::admit), a grown data channel (FormationRoutes::channel_grown) and every loss.
class RescaleProtocol : public OwnedByCore<RescaleProtocol> {
 public:
  using ShrinkAnswer = std::function<void(bool accepted, std::string answer)>;

  RescaleProtocol(Strand& strand, const ClusterConfig& config, const ClusterHooks& hooks, Lifecycle& lifecycle,
                  MemberTable& members, ConnectionFactory& connections, DataChannels& data, Formation& formation)
      : strand_(strand),
        config_(config),
        hooks_(hooks),
        lifecycle_(lifecycle),
        members_(members),
        connections_(connections),
        data_(data),
        formation_(formation),
        poll_timer_(strand),
        checkpointed_(config.layout.has_value()) {}  // recovered from a marked checkpoint

  /// A round is running (ClusterStatusQuery's processing_messages is false meanwhile).
  [[nodiscard]] bool in_progress() const { return phase_ != RoundPhase::idle; }
  /// The initializer: worker `index` takes part in the round running (a leaver does until it is told to go).
  [[nodiscard]] bool takes_part(std::size_t index) const { return in_progress() && participants_.count(index) > 0; }

  // Checkpoints and membership changes exclude each other (the initializer): a checkpoint's cut must not fall in a
  // move, and its workers are the membership at its begin.
  /// Any thread (the executor's, from Cluster::begin_checkpoint): holds membership changes back for checkpoint `id`;
  /// false when one is under way (nothing held).
  [[nodiscard]] bool hold_for_checkpoint(std::uint64_t id);
  /// The held checkpoint's begin went out: its layout is the membership now.
  void checkpoint_began();
  /// The strand, after the checkpoint's completion went out to every worker (so that a round's pause, which a
  /// leaver's sink hand-off follows, never overtakes it): checkpoint `id` no longer holds membership changes back.
  /// A hold taken for a later checkpoint meanwhile (on the executor) stays.
  void release_checkpoint_hold(std::uint64_t id) {
    std::uint64_t held = id;
    (void)checkpoint_held_.compare_exchange_strong(held, no_hold);
  }
  /// After release_checkpoint_hold: what waited for the checkpoint goes on; `complete`: leavers that wait for a
  /// complete checkpoint without them (with roll_back_on_loss) and left before it began are told to go.
  void checkpoint_over(bool complete);
  /// A checkpoint that was not held after all (hold_for_checkpoint said no): what it held back for a moment goes on.
  void resume_held_back();

  // The initializer.
  /// A worker said hello after formation: admit it (empty), park it until the round running ends (empty), or why not.
  [[nodiscard]] std::string admit(const std::shared_ptr<FramedConnection>& connection, const WorkerInfo& worker);
  /// Worker `index` (0: this one) reports its data channel to joiner `joiner` up (a joiner: all of its own).
  void on_channels_up(std::size_t index, std::size_t joiner);
  /// The initializer: the cluster begins to stop. Joiners that have not got their membership yet are turned away
  /// ("the cluster is stopping"): their channels no longer open, and they would join a cluster that drains.
  void turn_away_joiners();
  void on_poll_reply(std::size_t index, const PollReply& reply);
  void on_moved(std::size_t index, std::uint64_t round);
  /// A shrink request (the external ShrinkRequest's JSON) from worker `index`, to answer with shrink-reply `id`.
  void on_shrink_request(std::size_t index, std::uint64_t id, std::string_view json);

  // A worker that is not the initializer.
  void on_membership_update(Membership membership);
  void on_pause(std::uint64_t round);
  /// The initializer's rescale-poll: this worker's reply.
  [[nodiscard]] PollReply poll_reply(std::uint64_t round) const;
  void on_move(std::uint64_t round, Membership next);
  void on_resume(std::uint64_t round);
  void on_shrink_reply(std::uint64_t id, bool accepted, std::string answer);

  // Both.
  /// Our outbound data channel to worker `index`, opened after formation, is up.
  void on_channel_grown(std::size_t index);
  /// The runtime handed over what on_rescale_move asked (Cluster::rescale_moved).
  void moved(std::uint64_t round);
  /// An external ShrinkRequest on this worker: decided by the initializer; `done` gets the answer.
  void request_shrink(std::string_view json, ShrinkAnswer done);
  void on_peer_lost(std::size_t index);
  void close() { poll_timer_.cancel(); }

 private:
  enum class RoundPhase { idle, pausing, moving, settling };
  /// A joiner's channels open in two steps, so that nobody hears of it from it before the initializer told them:
  /// first every member opens its channel to it; then it gets its membership and opens its own to every member.
  struct Joiner {
    std::size_t index = 0;
    std::set<std::size_t> awaiting;  // members whose channel to it is not up yet; then only itself
    bool told = false;               // it has its membership
  };
  struct Parked {
    std::shared_ptr<FramedConnection> connection;
    WorkerInfo worker;
  };

  void admit_now(const std::shared_ptr<FramedConnection>& connection, const WorkerInfo& worker);
  /// Turns `joiner` (not told yet) away: departed, so that its connection closing is no loss here.
  void turn_away(std::vector<Joiner>::iterator joiner);
  void joiner_ready(std::size_t index);
  /// Starts a round when none runs and no joiner waits for its channels: for the ready joiners and `leaving`.
  void maybe_start_round();
  void start_round(std::set<std::size_t> leaving);
  void poll_round();
  void finish_poll();
  void move();
  /// Sends `next_` as the round's move to every participant (again, after a loss: a second move in the same round).
  void send_move();
  /// A participant was lost after the move went out: what was handed to it goes back (a second move).
  void move_without(std::size_t lost);
  void finish_round();
  void take_parked();
  /// The initializer: decides a shrink request and, when accepted, starts its round. The answer.
  [[nodiscard]] std::pair<bool, std::string> shrink(std::string_view json);
  /// The initializer decides a shrink request: the answer, and the workers that will leave when accepted.
  [[nodiscard]] std::pair<bool, std::string> decide_shrink(std::string_view json, std::set<std::size_t>& leaving) const;
  void send(std::size_t index, std::vector<char> frame);
  /// Whether worker `index` owned a key group before the round running (or now, between rounds).
  [[nodiscard]] bool owned_key_groups(std::size_t index) const;
  /// About to start a membership change: false (nothing may change) while a checkpoint holds the membership.
  [[nodiscard]] bool may_change();
  /// changing_ says again whether a membership change is under way.
  void refresh_changing();
  /// A leaver's round is over: stop, then exit.
  void tell_to_go(std::size_t index);

  Strand& strand_;
  const ClusterConfig& config_;
  const ClusterHooks& hooks_;
  Lifecycle& lifecycle_;
  MemberTable& members_;
  ConnectionFactory& connections_;
  DataChannels& data_;
  Formation& formation_;

  RoundPhase phase_ = RoundPhase::idle;
  std::uint64_t round_ = 0;
  std::chrono::steady_clock::time_point round_began_{};
  std::set<std::size_t> participants_;
  std::set<std::size_t> leaving_;
  std::map<std::size_t, unsigned>
      awaiting_moved_;                        // moves sent and not answered yet, by worker (a loss sends a second)
  std::vector<std::uint16_t> owners_before_;  // the round's owners before its first move
  std::optional<Membership> next_;
  std::size_t groups_moving_ = 0;
  Timer poll_timer_;
  std::uint64_t poll_round_ = 0;
  std::set<std::size_t> poll_awaiting_;
  std::map<std::size_t, PollReply> poll_replies_;
  std::optional<std::vector<std::uint64_t>> last_quiet_signature_;

  std::vector<Joiner> joiners_;             // admitted, channels opening
  std::vector<std::size_t> ready_joiners_;  // channels up, waiting for the round
  std::vector<Parked> parked_;              // said hello during a round

  std::vector<std::size_t> deferred_leaving_;  // a shrink accepted while a checkpoint held the membership
  /// With roll_back_on_loss: leavers whose round is over, with the membership version that has them departed; they
  /// go once a checkpoint of that version (or later) is complete, so that a recovery never waits for them.
  std::vector<std::pair<std::size_t, std::uint64_t>> leavers_waiting_;
  std::uint64_t checkpoint_version_ = 0;      // the membership version when the held checkpoint began
  bool checkpointed_ = false;                 // with roll_back_on_loss: a checkpoint of this cluster completed
  std::atomic<bool> changing_{false};         // a joiner or a round is under way (read by hold_for_checkpoint)
  static constexpr std::uint64_t no_hold = ~std::uint64_t{0};
  std::atomic<std::uint64_t> checkpoint_held_{no_hold};  // the checkpoint that holds membership changes back

  std::uint64_t next_shrink_id_ = 0;
  std::map<std::uint64_t, ShrinkAnswer> shrink_answers_;  // a worker: forwarded to the initializer
};

}  // namespace roo::cluster
