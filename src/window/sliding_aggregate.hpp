#pragma once

#include "aggregation_calls.hpp"

#include "roo/graph/window_spec.hpp"
#include "roo/python/py_ref.hpp"

#include <vector>

namespace roo::window {

/// One key's aggregate over the panes of its current sliding window, as two stacks: `back_` holds the newest panes
/// and their combined accumulator, `front_` the older ones, each with the accumulator of itself and every newer
/// pane of `front_` (the oldest on top). Moving the window drops panes from the top of `front_` (refilled from
/// `back_` when empty) and appends new panes to `back_`, so a window costs about three combine() calls however many
/// panes it spans, in time order (combine need only be associative). Holds references to the panes' accumulators:
/// stale once one of them changes (the owner then clears it). Lives on the Python executor.
class SlidingAggregate {
 public:
  /// `stagger` (>= 1): the first refill of `front_` comes as soon as `back_` holds this many panes. A refill costs
  /// about one combine() per pane of the window, and keys whose windows are aligned (all of them, once their
  /// first events came together) would all refill in the same firing, every `range / pane` windows: keys given
  /// different staggers refill in different firings, so no firing pays for all of them (bench/windows: p99).
  explicit SlidingAggregate(std::size_t stagger = 0) : stagger_(stagger) {}

  /// Everything held is forgotten: the next window is combined from its panes again (staggered again).
  void clear() {
    front_.clear();
    back_.clear();
    back_value_ = {};
    prefix_ = {};
    until_ = graph::start_of_time;
    refilled_ = false;
  }
  /// Panes before this have been appended (those after it not yet).
  [[nodiscard]] graph::EventTime until() const { return until_; }
  void set_until(graph::EventTime until) { until_ = until; }

  /// Drops the panes before `start`. False when combine() raised (the Python error is set; clear() then).
  bool drop_before(graph::EventTime start, const AggregationCalls& calls);
  /// Appends the pane at `start` (after every pane held) with accumulator `acc`. False when combine() raised.
  bool append(graph::EventTime start, PyObject* acc, const AggregationCalls& calls);
  /// The accumulator of every pane held (may be one the panes hold: not to be changed), or null: none held, or
  /// combine() raised (the Python error is set).
  [[nodiscard]] python::PyRef value(const AggregationCalls& calls) const;

  /// Keeps value() for the window starting at `window`, whose panes from until() on are not held yet: when that
  /// window fires, combining those (usually one pane) onto prepared() is its accumulator, so a firing calls
  /// combine() once per key and the rest (append(), drop_before(), this) can wait until its outputs left. Any
  /// later drop_before() or append() forgets it. False when combine() raised (the Python error is set).
  bool prepare(graph::EventTime window, const AggregationCalls& calls);
  /// The accumulator prepared for `window` (borrowed, not to be changed), or null.
  [[nodiscard]] PyObject* prepared(graph::EventTime window) const {
    return prefix_window_ == window ? prefix_.get() : nullptr;
  }

 private:
  struct Entry {
    graph::EventTime start;
    python::PyRef value;  ///< front_: this pane's and every newer front pane's; back_: this pane's
  };

  std::vector<Entry> front_;  ///< the oldest last
  std::vector<Entry> back_;   ///< the oldest first
  python::PyRef back_value_;
  python::PyRef prefix_;  ///< value() kept by prepare(), for the window at prefix_window_
  graph::EventTime prefix_window_ = graph::start_of_time;
  graph::EventTime until_ = graph::start_of_time;
  std::size_t stagger_ = 0;
  bool refilled_ = false;  ///< the first refill (the staggered one) happened
};

}  // namespace roo::window
