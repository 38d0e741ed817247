#pragma once

#include "roo/core/frame_batch.hpp"
#include "roo/io/source.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace roo::runtime {

/// Where each replayable source (Kafka) is at the executor's cut: for every partition, the offset after the last
/// message the executor processed, folded from the batches' FrameBatch::Meta, or where the source started it when
/// none was processed yet. A checkpoint keeps it, a recovery
/// seeks the sources to it, and a completed checkpoint commits it to the source's own system (Kafka's group offsets).
/// Lives on the executor.
class SourcePositions {
 public:
  explicit SourcePositions(std::size_t sources) : positions_(sources) {}

  /// Frames [first, last) of `batch` were processed (a batch without Meta changes nothing).
  void fold(const core::FrameBatch& batch, std::size_t first, std::size_t last);
  /// Source `source` starts reading partitions at these offsets (core::SourceNews::starts): a partition none of whose
  /// messages was processed yet stands there. A partition with a position keeps it.
  void started(std::size_t source, const std::vector<std::pair<core::SourceNews::Input, std::int64_t>>& starts);

  [[nodiscard]] const io::SourcePosition& of(std::size_t source) const { return positions_[source]; }
  void restore(std::size_t source, io::SourcePosition position) { positions_[source] = std::move(position); }

  /// The checkpoint's encoding: u32 count | per partition: u32 topic, i32 partition, i64 next offset (big-endian).
  [[nodiscard]] static std::string encode(const io::SourcePosition& position);
  /// Throws core::Error when `bytes` is not one.
  [[nodiscard]] static io::SourcePosition decode(std::string_view bytes);

 private:
  std::vector<io::SourcePosition> positions_;  ///< by source index; empty for sources that are not replayable
};

}  // namespace roo::runtime
