#pragma once

#include "member_table.hpp"
#include "wire.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace roo::cluster {

/// This worker's answer to a poll (drain or rescale): whether it is drained, and the bytes it sent to and processed
/// from each worker.
[[nodiscard]] PollReply local_poll_reply(const MemberTable& members, std::uint64_t round, bool drained);

/// Whether the poll replies of the workers that `count` (by index; the drain: the live ones; a rescale: its
/// participants, leavers included) show a quiet cluster: every one drained, and for every pair the bytes one sent
/// the other equal the bytes the other processed from it. Quiet: the counts (the caller compares two
/// consecutive rounds' and trusts the quiet only when they are equal, since the replies were taken at different
/// moments); not quiet: nullopt. A reply from a worker that knew fewer workers counts 0 for the others.
[[nodiscard]] std::optional<std::vector<std::uint64_t>> quiet_signature(const std::map<std::size_t, PollReply>& replies,
                                                                        const std::function<bool(std::size_t)>& count);

}  // namespace roo::cluster
