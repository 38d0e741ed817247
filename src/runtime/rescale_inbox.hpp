#pragma once

#include "roo/cluster/cluster.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <variant>
#include <vector>

namespace roo::runtime {

/// The cluster's rescale news (cluster::ClusterHooks: on_members_changed, on_rescale_pause, on_rescale_move,
/// on_rescale_resume), from its hooks (the io thread) to the executor, which takes them in order once per turn.
class RescaleInbox {
 public:
  /// A worker joined: the membership has one more worker, the same owners.
  struct MembersChanged {
    cluster::Membership membership;
  };
  /// Rescale `round` begins: no more source input until it resumes.
  struct Pause {
    std::uint64_t round = 0;
  };
  /// The cluster is quiet: hand over the key groups this worker gives up in `next`, then route by it.
  struct Move {
    std::uint64_t round = 0;
    cluster::Membership next;
  };
  /// Rescale `round` is over: source input again.
  struct Resume {
    std::uint64_t round = 0;
  };
  using Message = std::variant<MembersChanged, Pause, Move, Resume>;

  void push(Message message);
  [[nodiscard]] std::vector<Message> take();
  /// Whether anything waits (cheap: the executor asks every turn).
  [[nodiscard]] bool empty() const { return waiting_.load(std::memory_order_acquire) == 0; }

 private:
  std::mutex mutex_;
  std::vector<Message> messages_;
  std::atomic<std::size_t> waiting_{0};
};

}  // namespace roo::runtime
