#pragma once

#include "roo/cluster/cluster.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace roo::runtime {

/// Which worker reads each partition of a Kafka source (docs/kafka.md, "Partitions and workers"): partition p of
/// every topic is read by the live worker p mod L, counting only the workers that have not left (membership order).
/// The source gets this worker's `rank` and `count` as its worker index and count (io::KafkaSourceConfig), so its
/// own modulo deals the same partitions. A rescale's move deals them again over the workers that stay.
struct PartitionReaders {
  std::size_t rank = 0;   ///< this worker among the live workers
  std::size_t count = 1;  ///< the live workers

  /// This worker's share in `membership`; none for a worker that has left (it reads no partition).
  [[nodiscard]] static std::optional<PartitionReaders> of(const cluster::Membership& membership);

  [[nodiscard]] bool reads(std::int32_t partition) const { return static_cast<std::size_t>(partition) % count == rank; }
};

}  // namespace roo::runtime
