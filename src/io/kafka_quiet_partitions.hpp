#pragma once

#include "roo/io/source.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <vector>

namespace roo::io {

/// Which partitions of a Kafka source have sat at the end of what the brokers hold, with nothing new fetched, for
/// the source's idleness, by the poll thread's clock. The source reports them once (FrameBatch::news.quiet) and the
/// executor's windows take them as idle at once (window::WatermarkClock::went_quiet). Judged on the executor's clock
/// instead, a partition whose newer messages waited in the mailbox behind another partition's backlog went idle, the
/// watermark passed it, and those messages came late (docs/notes.md, session 25).
///
/// Time the source spends held back by a full mailbox does not count: it fetched nothing then, through no quiet of
/// the partitions'. Pure bookkeeping, no I/O; one thread (the poll thread). message() is the per-message call: cheap
/// while no partition is at its end, or the message's partition is the one the previous message came from.
class KafkaQuietPartitions {
 public:
  using Clock = std::chrono::steady_clock;

  /// `quiet_after`: how long a partition must sit at its end (0: reported at its end).
  explicit KafkaQuietPartitions(Clock::duration quiet_after) : quiet_after_(quiet_after) {}

  /// librdkafka said the partition has nothing more (its end-of-partition event), at `now`. Its quiet starts then,
  /// unless it had started already (librdkafka tells an end again after a pause).
  void reached_end(const PartitionId& partition, Clock::time_point now);

  /// A message of the partition was fetched: it is not at its end (and once reported, it is not quiet any more).
  void message(const PartitionId& partition) {
    if (at_end_.empty() || (last_message_ && *last_message_ == partition)) {
      return;
    }
    at_end_.erase(partition);
    last_message_ = partition;
  }

  /// The source waited for room in the mailbox until `now`, fetching nothing: a quiet not reported yet starts again.
  void held_back(Clock::time_point now);

  /// The partitions were paused: librdkafka forgets the ends it told and tells them again after the resume, once it
  /// fetched up to them. A quiet not reported yet waits for that.
  void paused();

  /// The partitions quiet for `quiet_after` by `now` and not reported yet: each is reported once, until a message of
  /// it comes.
  [[nodiscard]] std::vector<PartitionId> newly_quiet(Clock::time_point now);

 private:
  struct End {
    Clock::time_point since;
    bool reported = false;
  };
  Clock::duration quiet_after_;
  std::map<PartitionId, End> at_end_;
  std::optional<PartitionId> last_message_;  // a partition known not to be in at_end_
};

}  // namespace roo::io
