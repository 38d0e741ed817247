#pragma once

#include "roo/graph/window_spec.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace roo::window {

using graph::EventTime;

/// The watermark of one source on one worker: how far in event time this worker has seen that source's events
/// (docs/windows.md, "Watermarks"). Each input of the source (a TCP connection, a Kafka partition, the generator)
/// keeps the largest event time it delivered and the wall clock of its last event:
/// - an input is idle when nothing came for the source's idleness; a Kafka partition only once its source said it
///   is quiet (went_quiet: at its end with nothing new for the idleness, on the source's clock), so a
///   partition held back by backpressure or a slow fetch, or whose messages wait in the mailbox behind another
///   partition's backlog, never lets the watermark pass it;
/// - the watermark is the minimum over the inputs that are not idle; when every input is idle it is the largest
///   event time seen plus the wall clock passed since the idleness expired (so the last window of a stream that
///   stops still closes, within delay + idleness, and the result does not depend on which input went quiet first),
///   or, when no input ever brought an event (empty partitions), nothing: it holds nothing back;
/// - an event stamped more than max_ahead ahead of the wall clock does not move it (it still counts as activity);
/// - an ingest-time source's watermark is the wall clock; a finished source's (a generator that returned None) is
///   end_of_time; a source with no input yet holds nothing back (nullopt).
/// It never goes back, except when a rescale deals the source's partitions again (deal_again). Lives on the Python
/// executor. Times are nanoseconds since the epoch (system clock).
class WatermarkClock {
 public:
  WatermarkClock(graph::EventTimeSpec spec, bool ingest_time) : spec_(spec), ingest_time_(ingest_time) {}

  /// The slot of input `input` (valid until the next watermark() call) (a connection number, or topic << 32 |
  /// partition), made on first use. `reports_end` says whether the input's source tells when it is quiet (Kafka);
  /// others are idle an idleness after their last event, by the executor's clock.
  [[nodiscard]] std::size_t slot(std::uint64_t input, bool reports_end);
  /// An event of the input in `slot` with event time `time`, taken in at wall clock `now`. Cheap: the per-event call.
  void observe(std::size_t slot, EventTime time, std::int64_t now) {
    Input& in = inputs_[slot];
    in.last_arrival = now;
    in.quiet = false;
    // time <= now first: `time - now` cannot overflow after it (now is a wall clock, not negative).
    if (time > in.max_time && (spec_.max_ahead_ns <= 0 || time <= now || time - now <= spec_.max_ahead_ns)) {
      in.max_time = time;
    }
  }
  /// The source says the input in `slot` sat at the end of what its broker holds, with nothing new, for the idleness
  /// (SourceNews::quiet), told at wall clock `now`: it is idle from now until its next event. (A partition just
  /// assigned, whose first messages may still be on their way, is quiet only once that time passed with none.)
  void went_quiet(std::size_t slot, std::int64_t now) {
    Input& in = inputs_[slot];
    in.quiet = true;
    if (in.last_arrival == 0) {
      in.last_arrival = now;
    }
  }
  /// The source's inputs are not known yet (a Kafka source before its first batch tells its partitions): the
  /// watermark holds everything back until inputs_known(), rather than letting this worker's windows (and, through
  /// its peers, theirs) pass a partition whose backlog has not been read.
  void wait_for_inputs() { waiting_for_inputs_ = true; }
  void inputs_known() { waiting_for_inputs_ = false; }
  /// The source stopped reading its inputs here (a rescale deals a Kafka source's partitions again): none of them
  /// holds the watermark back any more (a partition handed on with a backlog would otherwise hold it back for ever),
  /// while what they saw is kept (when all is quiet it moves on from there).
  /// `reads_again`: the source reads partitions here after the rescale, which come with its first batch; one taken
  /// from another worker may have a backlog older than anything this clock reached, so the watermark starts again
  /// from nothing (the one time it goes back) and waits for those inputs. The window stages' watermarks never go
  /// back: they wait until the inputs pass them.
  void deal_again(bool reads_again);
  /// The source ended (a generator returned None): every window may fire.
  void finish() { finished_ = true; }

  /// The watermark at wall clock `now`; nullopt while the source has no input here (it holds nothing back).
  [[nodiscard]] std::optional<EventTime> watermark(std::int64_t now);
  /// The wall clock at which watermark() next changes with no new event (an input's idleness runs out), or
  /// end_of_time when only new events can change it. A watermark that moves with the wall clock (ingest time, all
  /// inputs idle) reports `now`.
  [[nodiscard]] std::int64_t next_change(std::int64_t now) const;

  [[nodiscard]] bool ingest_time() const { return ingest_time_; }

 private:
  struct Input {
    std::uint64_t id = 0;
    EventTime max_time = graph::start_of_time;
    std::int64_t last_arrival = 0;
    bool reports_end = false;
    bool quiet = false;  ///< reports_end: its source said so (went_quiet) after its last event
  };
  [[nodiscard]] bool idle(const Input& in, std::int64_t now) const {
    return in.reports_end ? in.quiet : now - in.last_arrival >= spec_.idleness_ns;
  }
  /// Forgets inputs quiet for long (closed TCP connections), keeping what they saw: slots are only valid until the
  /// next watermark() call.
  void retire_quiet_inputs(std::int64_t now);
  void retire(const Input& in);

  graph::EventTimeSpec spec_;
  bool ingest_time_;
  bool finished_ = false;
  bool waiting_for_inputs_ = false;
  std::vector<Input> inputs_;
  EventTime retired_max_ = graph::start_of_time;  ///< the largest event time of the inputs retired
  std::int64_t retired_last_ = 0;                 ///< and their last arrival
  EventTime last_ = graph::start_of_time;         ///< what watermark() last returned: it never goes back
};

}  // namespace roo::window
