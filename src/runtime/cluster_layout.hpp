#pragma once

#include "roo/cluster/cluster.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace roo::runtime {

/// A cluster's layout as each of its checkpoints records it (the initializer's cluster-<id>.complete), so that a
/// recovery forms the cluster that took it: the workers by index (names; endpoints are not kept), which of them left,
/// the owner of each key group and the membership's version. JSON:
/// {"workers":["initializer","w1"],"departed":[false,false],"key_groups":256,"owners":[0,1,...],"version":3}
/// ("owners" is empty while the groups are dealt round-robin).
[[nodiscard]] std::string layout_json(const cluster::Membership& membership);

/// The layout back from layout_json's text; nullopt when `text` is not one (a checkpoint of an earlier Roo recorded
/// the names only, one per line: the cluster then forms as --worker-count says) or does not hold together.
[[nodiscard]] std::optional<cluster::Membership> layout_of(std::string_view text);

}  // namespace roo::runtime
