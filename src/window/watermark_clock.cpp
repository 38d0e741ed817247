#include "roo/window/watermark_clock.hpp"

#include "time_arithmetic.hpp"

#include <algorithm>

namespace roo::window {

std::size_t WatermarkClock::slot(std::uint64_t input, bool reports_end) {
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    if (inputs_[i].id == input) {
      return i;
    }
  }
  Input in;
  in.id = input;
  in.reports_end = reports_end;
  inputs_.push_back(in);
  return inputs_.size() - 1;
}

std::optional<EventTime> WatermarkClock::watermark(std::int64_t now) {
  if (finished_) {
    return graph::end_of_time;
  }
  if (ingest_time_) {
    last_ = std::max(last_, now);
    return last_;
  }
  if (waiting_for_inputs_) {
    return last_;
  }
  if (inputs_.size() > 64) {
    retire_quiet_inputs(now);
  }
  if (inputs_.empty() && retired_last_ == 0) {
    return std::nullopt;
  }
  EventTime active_min = graph::end_of_time;
  bool any_active = false;
  EventTime max_seen = retired_max_;
  std::int64_t last_arrival = retired_last_;
  for (const Input& in : inputs_) {
    max_seen = std::max(max_seen, in.max_time);
    last_arrival = std::max(last_arrival, in.last_arrival);
    if (!idle(in, now)) {
      any_active = true;
      active_min = std::min(active_min, in.max_time);
    }
  }
  EventTime now_mark = active_min;
  if (!any_active) {
    if (max_seen == graph::start_of_time) {
      // Every input is idle and none ever brought an event (empty partitions): it holds nothing back, as no input.
      return std::nullopt;
    }
    // Everything is quiet: event time goes on with the wall clock from where the inputs left it.
    now_mark = saturating_add(max_seen, saturating_sub(now - last_arrival, spec_.idleness_ns));
  }
  last_ = std::max(last_, now_mark);
  return last_;
}

void WatermarkClock::retire(const Input& in) {
  retired_max_ = std::max(retired_max_, in.max_time);
  retired_last_ = std::max(retired_last_, in.last_arrival);
}

void WatermarkClock::retire_quiet_inputs(std::int64_t now) {
  auto quiet_for_long = [&](const Input& in) {
    return idle(in, now) && now - in.last_arrival > 10 * spec_.idleness_ns;
  };
  for (const Input& in : inputs_) {
    if (quiet_for_long(in)) {
      retire(in);
    }
  }
  std::erase_if(inputs_, quiet_for_long);
}

void WatermarkClock::deal_again(bool reads_again) {
  for (const Input& in : inputs_) {
    retire(in);
  }
  inputs_.clear();
  if (reads_again) {
    last_ = graph::start_of_time;
    waiting_for_inputs_ = true;
  }
}

std::int64_t WatermarkClock::next_change(std::int64_t now) const {
  if (finished_ || waiting_for_inputs_ || (inputs_.empty() && retired_last_ == 0)) {
    return graph::end_of_time;
  }
  if (ingest_time_) {
    return now;
  }
  std::int64_t next = graph::end_of_time;
  bool any_active = false;
  EventTime max_seen = retired_max_;
  for (const Input& in : inputs_) {
    max_seen = std::max(max_seen, in.max_time);
    if (!idle(in, now)) {
      any_active = true;
      if (!in.reports_end) {  // a quiet partition is told, not timed
        next = std::min(next, in.last_arrival + spec_.idleness_ns);
      }
    }
  }
  if (!any_active) {
    return max_seen == graph::start_of_time ? graph::end_of_time : now;  // nothing seen: only an event changes it
  }
  return next;
}

}  // namespace roo::window
