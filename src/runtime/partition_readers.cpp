#include "partition_readers.hpp"

namespace roo::runtime {

std::optional<PartitionReaders> PartitionReaders::of(const cluster::Membership& membership) {
  if (membership.workers.empty()) {
    return PartitionReaders{};  // no cluster: one worker reads every partition
  }
  if (membership.has_departed(membership.self)) {
    return std::nullopt;
  }
  PartitionReaders readers{.rank = 0, .count = 0};
  for (std::size_t w = 0; w < membership.workers.size(); ++w) {
    if (membership.has_departed(w)) {
      continue;
    }
    if (w == membership.self) {
      readers.rank = readers.count;
    }
    ++readers.count;
  }
  return readers;
}

}  // namespace roo::runtime
