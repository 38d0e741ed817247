#pragma once

#include "roo/io/source.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace roo::io {

/// Which partitions of a Kafka source have sat at the end of what the brokers hold, with nothing new, for the
/// source's idleness, by the poll thread's clock. The source reports them once (FrameBatch::news.quiet) and the
/// executor's windows take them as idle at once (window::WatermarkClock::went_quiet). Judged on the executor's clock
/// instead, a partition whose newer messages waited in the mailbox behind another partition's backlog went idle, the
/// watermark passed it, and those messages came late (docs/notes.md, sessions 24-25).
///
/// A partition's quiet starts at librdkafka's end-of-partition event and ends at its next message. It is reported
/// only on evidence that nothing new is there: the partition's end as last known (KafkaConsumerLag::known_end: the
/// high watermark of librdkafka's latest fetch answer, or of a paused source's query) is not past the end it signalled,
/// so a message fetched but still queued in librdkafka behind another partition's, or an open transaction's records,
/// keep it from being quiet; and after a pause (which stops the fetches) only once librdkafka signalled the same end
/// again (it does after the resume, once a fetch reached it). Time spent behind a full mailbox counts: a quiet
/// partition beside a backlog goes quiet.
///
/// Pure bookkeeping, no I/O; one thread (the poll thread). message() is the per-message call: cheap while no
/// partition is at its end, or when the message's partition is the one the previous message came from.
class KafkaQuietPartitions {
 public:
  using Clock = std::chrono::steady_clock;
  /// A partition's end as last known (its high watermark), or a negative value when unknown.
  using KnownEnd = std::function<std::int64_t(const PartitionId&)>;

  /// `quiet_after`: how long a partition must sit at its end (0: reported at its end).
  explicit KafkaQuietPartitions(Clock::duration quiet_after) : quiet_after_(quiet_after) {}

  /// librdkafka said the partition has nothing at `offset` and after (its end-of-partition event), at `now`. Its
  /// quiet starts then; the same end told again (after a pause) confirms it without starting it again.
  void reached_end(const PartitionId& partition, std::int64_t offset, Clock::time_point now);

  /// A message of the partition was fetched: it is not at its end (and once reported, it is not quiet any more).
  void message(const PartitionId& partition) {
    if (at_end_.empty() || (last_message_ && *last_message_ == partition)) {
      return;
    }
    at_end_.erase(partition);
    last_message_ = partition;
  }

  /// The partitions were paused: librdkafka fetches nothing until the resume. A quiet not reported yet waits until
  /// librdkafka signals the same end again.
  void paused();

  /// The partitions quiet for `quiet_after` by `now`, confirmed, not reported yet, and whose `known_end` is not past
  /// the end they signalled: each is reported once, until a message of it comes.
  [[nodiscard]] std::vector<PartitionId> newly_quiet(Clock::time_point now, const KnownEnd& known_end);

 private:
  struct End {
    Clock::time_point since;
    std::int64_t offset = 0;
    bool confirmed = true;  ///< no pause since librdkafka signalled it
    bool reported = false;
  };
  Clock::duration quiet_after_;
  std::map<PartitionId, End> at_end_;
  std::optional<PartitionId> last_message_;  // a partition known not to be in at_end_
};

}  // namespace roo::io
