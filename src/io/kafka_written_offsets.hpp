#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace roo::io {

/// Where one Kafka transaction's records landed: per partition, the offsets its delivery reports gave, as runs of
/// consecutive offsets (one run per partition while no other producer writes there; one per produced batch when
/// others do). A transactional Kafka sink hands this to the checkpoint instead of a copy of its output
/// (docs/kafka.md, "Exactly once"): if the worker dies between the checkpoint's completion and the transaction's
/// commit, the records are read back from these offsets (an aborted transaction's records stay in the log) and
/// committed again. Not thread-safe: the sink's thread owns it.
class KafkaWrittenOffsets {
 public:
  struct Run {
    std::int64_t first = 0;
    std::int64_t count = 0;
    bool operator==(const Run&) const = default;
  };

  /// A record was delivered to `partition` at `offset`.
  void add(std::int32_t partition, std::int64_t offset);
  void clear();

  [[nodiscard]] std::uint64_t records() const { return records_; }
  /// Every partition's offsets came in increasing order (as an idempotent producer's reports do); if not, the
  /// runs do not describe the records and encode() must not be used.
  [[nodiscard]] bool increasing() const { return increasing_; }
  [[nodiscard]] const std::map<std::int32_t, std::vector<Run>>& runs() const { return runs_; }

  /// The offsets of `topic`'s partitions. Layout: u8 version (1) | u32 topic length, topic | u32 partitions | per
  /// partition: i32 partition, u32 runs, per run i64 first offset, i64 count (big-endian).
  [[nodiscard]] std::string encode(std::string_view topic) const;
  /// Throws core::Error naming what is malformed.
  [[nodiscard]] static KafkaWrittenOffsets decode(std::string_view bytes);
  /// The topic decode() read (empty before).
  [[nodiscard]] const std::string& topic() const { return topic_; }

 private:
  std::string topic_;
  std::map<std::int32_t, std::vector<Run>> runs_;
  std::uint64_t records_ = 0;
  bool increasing_ = true;
};

}  // namespace roo::io
