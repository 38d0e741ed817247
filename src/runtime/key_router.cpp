#include "key_router.hpp"

#include "roo/cluster/key_group_table.hpp"
#include "roo/core/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace roo::runtime {

Routing Routing::of(const cluster::Membership& membership) {
  return Routing{membership.self, membership.workers.size(), membership.key_groups, membership.owners};
}

void KeyRouter::reroute(Routing routing) {
  if (routing.key_groups == 0 || routing.workers == 0 || routing.self >= routing.workers ||
      routing.workers > std::numeric_limits<std::uint16_t>::max() + std::size_t{1}) {
    throw core::Error(fmt::format("route events: worker {} of {} with {} key groups is no place in a cluster",
                                  routing.self, routing.workers, routing.key_groups));
  }
  if (routing.owners.empty()) {
    routing.owners = cluster::KeyGroupTable::dealt(routing.key_groups, routing.workers);  // the first formation's
  }
  if (routing.owners.size() != routing.key_groups) {
    throw core::Error(fmt::format("route events: the owners table has {} entries for {} key groups",
                                  routing.owners.size(), routing.key_groups));
  }
  auto beyond = std::find_if(routing.owners.begin(), routing.owners.end(),
                             [&](std::uint16_t owner) { return owner >= routing.workers; });
  if (beyond != routing.owners.end()) {
    throw core::Error(fmt::format("route events: key group {} belongs to worker {}, and there are {} workers",
                                  beyond - routing.owners.begin(), *beyond, routing.workers));
  }
  self_ = routing.self;
  workers_ = routing.workers;
  owners_ = std::move(routing.owners);
  distributed_ = std::any_of(owners_.begin(), owners_.end(), [this](std::uint16_t owner) { return owner != self_; });
}

}  // namespace roo::runtime
