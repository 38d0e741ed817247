#include "quiet_cluster.hpp"

namespace roo::cluster {
namespace {

std::uint64_t at(const std::vector<std::uint64_t>& counts, std::size_t index) {
  return index < counts.size() ? counts[index] : 0;
}

}  // namespace

PollReply local_poll_reply(const MemberTable& members, std::uint64_t round, bool drained) {
  PollReply reply;
  reply.round = round;
  reply.drained = drained;
  for (std::size_t i = 0; i < members.size(); ++i) {
    reply.sent.push_back(members.sent(i));
    reply.processed.push_back(members.processed(i));
  }
  return reply;
}

std::optional<std::vector<std::uint64_t>> quiet_signature(const std::map<std::size_t, PollReply>& replies,
                                                          const std::function<bool(std::size_t)>& count) {
  bool quiet = true;
  std::vector<std::uint64_t> signature;
  for (const auto& [i, reply] : replies) {
    if (!count(i)) {
      continue;
    }
    quiet = quiet && reply.drained;
    for (const auto& [j, other] : replies) {
      if (i != j && count(j)) {
        quiet = quiet && at(reply.sent, j) == at(other.processed, i);
        signature.push_back(at(reply.sent, j));
      }
    }
  }
  if (!quiet) {
    return std::nullopt;
  }
  return signature;
}

}  // namespace roo::cluster
