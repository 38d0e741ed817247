#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace roo::cluster {

/// Which worker owns each key group, and how that changes when workers join or leave (docs/cluster.md, "Growing and
/// shrinking"). A pure computation: the initializer runs it, every worker receives its result in the Membership.
class KeyGroupTable {
 public:
  /// The first formation's table: groups dealt round-robin over `workers` (group g to worker g % workers).
  [[nodiscard]] static std::vector<std::uint16_t> dealt(std::uint32_t key_groups, std::size_t workers);

  /// The table after a rescale: every worker that stays (index below `workers`, not in `departed`) owns
  /// floor(key_groups / stayers) or one more, and as few groups as possible change owner: only a departed worker's
  /// groups and a worker's groups beyond its share move, each to a worker below its share. The workers that already
  /// own the most keep the larger shares. `departed` may be shorter than `workers` (missing entries stay).
  [[nodiscard]] static std::vector<std::uint16_t> rebalanced(const std::vector<std::uint16_t>& owners,
                                                             std::size_t workers, const std::vector<bool>& departed);

  /// A round's table once a worker was lost during its move (a second move in the same round): each group the table
  /// gave to a worker in `departed` goes back to its owner in `before` when that one stays, and otherwise to the
  /// stayer holding the fewest groups (the lowest index first). No other group changes owner: its state may still be
  /// on its way to the owner `after` names, and must find it there.
  [[nodiscard]] static std::vector<std::uint16_t> without(const std::vector<std::uint16_t>& before,
                                                          const std::vector<std::uint16_t>& after, std::size_t workers,
                                                          const std::vector<bool>& departed);

  /// How many groups change owner from `before` to `after` (the same size).
  [[nodiscard]] static std::size_t moved(const std::vector<std::uint16_t>& before,
                                         const std::vector<std::uint16_t>& after);
};

}  // namespace roo::cluster
