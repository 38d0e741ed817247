#pragma once

#include "roo/cluster/cluster.hpp"
#include "roo/core/framed_connection.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace roo::cluster {

/// The membership one worker's cluster side works with, shared by every protocol: the workers (names, addresses,
/// this worker's index, key groups), each peer's connections, liveness, byte counters and credit budget. It is the
/// one place a peer's loss is recorded (record_loss); what the other protocols do about a loss, ClusterCore wires
/// (ClusterCore::mark_lost).
///
/// Threads: everything on the core's strand, except ready(), count(), lost(), budget(), count_sent() and
/// count_processed(), which the executor thread calls from Cluster::send()/acknowledge()/budget()/workers_up(): they
/// touch only atomics and ByteBudgets. Those live in arrays allocated once for max_workers, so a worker joining later
/// (add()) only fills the next slot and then moves count() on: a slot below count() never changes place.
class MemberTable {
 public:
  /// What this worker knows about one other worker once the membership is known.
  struct Peer {
    std::shared_ptr<core::FramedConnection> control;   // initializer: the worker's connection; worker: only [0] is set
    std::shared_ptr<core::FramedConnection> outbound;  // our data channel to it (we send data, it acks)
    std::shared_ptr<core::FramedConnection> inbound;   // its data channel to us (it sends data, we ack)
    std::uint64_t outstanding = 0;                     // bytes sent and not acknowledged (released at loss)
    std::optional<std::string> lost_cause;             // set when it was lost
    std::uint64_t unprocessed_at_loss = 0;             // outstanding bytes released when it was lost
    bool lost_while_stopping = false;
    bool held_nothing = false;  // lost while it owned no key group (a joiner): nothing of ours went with it
    bool undrained = false;     // initializer: not drained when the drain timed out
    // Initializer: it has its membership. A joiner is a member before it has (its channels open first), and until
    // then it understands formation frames only: a query, a stop or a loss notice would be a malformed frame to it.
    bool has_membership = true;
  };

  /// The most workers a cluster can have (each owns a key group at least, and a key group's owner is a u16).
  static constexpr std::size_t max_workers = 1024;

  explicit MemberTable(const ClusterConfig& config) : config_(config) {}

  /// Takes the membership (once): one Peer, budget and counter per worker. ready() turns true last.
  void assign(Membership membership);
  /// A worker joined the running cluster (growing): `membership` is the one with it, the last worker. Its Peer,
  /// budget and counters exist before count() includes it. False (nothing changed) when max_workers are members.
  bool add(Membership membership);
  /// The same workers, a new version (a rescale's owners, departed workers).
  void update(Membership membership);
  /// Worker `index` leaves (a shrink moved its key groups away): its connections closing is no loss.
  void mark_departed(std::size_t index);
  [[nodiscard]] bool departed(std::size_t index) const { return membership_.has_departed(index); }
  /// Whether worker `index` owns a key group in the membership's table (every worker does while it is empty:
  /// round-robin).
  [[nodiscard]] bool owns_key_groups(std::size_t index) const;

  /// Any thread: the membership is known, and the budgets and counters exist.
  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] const Membership& membership() const { return membership_; }
  [[nodiscard]] std::size_t self() const { return membership_.self; }
  /// Workers in the membership (0 before it is known). On the strand.
  [[nodiscard]] std::size_t size() const { return peers_.size(); }
  /// The same, from any thread.
  [[nodiscard]] std::size_t count() const { return count_.load(std::memory_order_acquire); }
  [[nodiscard]] Peer& peer(std::size_t index) { return peers_[index]; }
  [[nodiscard]] const Peer& peer(std::size_t index) const { return peers_[index]; }
  [[nodiscard]] const std::string& name_of(std::size_t index) const { return membership_.workers[index].name; }
  /// A member not lost (departed or not): its data channels still carry what it handed over before it went.
  [[nodiscard]] bool is_connected(std::size_t index) const { return ready_ && index < peers_.size() && !lost_[index]; }
  /// A member not lost and not departed.
  [[nodiscard]] bool is_live(std::size_t index) const {
    return ready_ && index < peers_.size() && !lost_[index] && !departed(index);
  }

  /// Initializer: a live member that has its membership, to which the cluster's control frames (queries, stop,
  /// polls, loss notices, checkpoints) go.
  [[nodiscard]] bool hears_cluster(std::size_t index) const {
    return is_live(index) && peers_[index].control && peers_[index].has_membership;
  }

  /// Any thread, once ready().
  [[nodiscard]] bool lost(std::size_t index) const { return lost_[index]; }
  [[nodiscard]] core::ByteBudget& budget(std::size_t index) const { return *budgets_[index]; }
  void count_sent(std::size_t to, std::uint64_t bytes) { sent_bytes_[to] += bytes; }
  void count_processed(std::size_t from, std::uint64_t bytes) { processed_bytes_[from] += bytes; }
  [[nodiscard]] std::uint64_t sent(std::size_t to) const { return sent_bytes_[to]; }
  [[nodiscard]] std::uint64_t processed(std::size_t from) const { return processed_bytes_[from]; }

  /// Records that `index` is lost: its cause, one warning, its connections closed, its unacknowledged bytes
  /// released from its budget. The caller checked that it is a live peer.
  void record_loss(std::size_t index, const std::string& cause, bool while_stopping);
  /// Closes every peer's connections (closing the cluster).
  void close_connections();

 private:
  const ClusterConfig& config_;
  Membership membership_;
  std::vector<Peer> peers_;
  std::unique_ptr<std::atomic<bool>[]> lost_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> sent_bytes_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> processed_bytes_;
  std::unique_ptr<std::unique_ptr<core::ByteBudget>[]> budgets_;
  std::atomic<std::size_t> count_{0};
  std::atomic<bool> ready_{false};

  void open_slot(std::size_t index);
};

}  // namespace roo::cluster
