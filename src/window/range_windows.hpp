#pragma once

#include "aggregation_calls.hpp"
#include "late_events.hpp"
#include "sliding_aggregate.hpp"
#include "time_arithmetic.hpp"
#include "window_states.hpp"

#include "roo/python/py_ref.hpp"
#include "roo/window/window_operator.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

namespace roo::window {

/// `range_windows(range).with_slide(slide).with_delay(delay)` over an Aggregation (docs/windows.md): windows
/// [k*slide, k*slide + range) aligned to the epoch, each key's events kept in panes of gcd(range, slide), a window
/// output as combine over its panes when the watermark reaches its end + delay.
///
/// A key's state is the list [u, {pane start: accumulator}]: u is the first window start that had not fired when
/// the key last changed (so a restored key knows which of its panes' windows already fired). Beside the table, an
/// index pane start -> the keys with data in that pane says what is due without visiting every key.
/// Lives on the Python executor.
class RangeWindows final : public WindowOperator {
 public:
  RangeWindows(const WindowSpec& spec, PyObject* aggregation, state::KeyedStateTable& table,
               python::StepErrors& errors);

  void add(PyObject* key, PyObject* data, EventTime time, EventTime watermark, WindowOutput& out) override;
  void advance(EventTime watermark, WindowOutput& out) override;
  /// Drops the panes before the next window from the running aggregates of the keys that just fired (a refill's
  /// combine() calls among them) and forgets those panes: a firing's outputs leave before this work is done.
  void tidy(WindowOutput& out) override;
  void tick(std::int64_t /*wall_now_ns*/, WindowOutput& /*out*/) override {}
  [[nodiscard]] EventTime next_due() const override;
  [[nodiscard]] std::int64_t next_tick() const override { return end_of_time; }
  void restored() override;
  void keys_moved() override;
  [[nodiscard]] std::uint64_t late_events() const override { return late_.total(); }

 private:
  /// A key with data in a pane: its key object (as it first came) and its state list.
  struct Member {
    python::PyRef key;
    python::PyRef state;
  };
  /// One pane [start, start + pane_) with data: its start as a Python int (the key in each state's dict).
  struct Pane {
    python::PyRef start;
    std::vector<Member> members;
  };

  [[nodiscard]] Pane& pane_at(EventTime start);
  /// Adds `data` to `key`'s accumulator of `pane` (created by initial_accumulator() when missing).
  void accumulate(PyObject* key, PyObject* state, Pane& pane, PyObject* data);
  void add_late(PyObject* key, PyObject* data, EventTime time, WindowOutput& out);
  /// The start of the first window holding pane `start`.
  [[nodiscard]] EventTime first_window_of(EventTime start) const {
    return saturating_add(align_down(saturating_sub(start, range_), slide_), slide_);
  }
  [[nodiscard]] EventTime due(EventTime window) const { return saturating_add(window, saturating_add(range_, delay_)); }
  /// The first window start that has not fired at `watermark`.
  [[nodiscard]] EventTime unfired_at(EventTime watermark) const {
    return saturating_add(align_down(saturating_sub(watermark, saturating_add(range_, delay_)), slide_), slide_);
  }
  void set_unfired(EventTime window);
  /// Sets `state`'s u to the stage's (it changed, or a window of it fired), unless the key came in a rescale from a
  /// worker whose windows of it fired further (its u is larger: it never goes back).
  void mark_unfired(PyObject* state) {
    PyObject* u = PyList_GET_ITEM(state, 0);
    if (u != unfired_object_.get() && PyLong_AsLongLong(u) <= unfired_) {
      Py_INCREF(unfired_object_.get());
      set_item(state, 0, unfired_object_.get());
    }
  }
  /// The u of `state` when it is beyond the stage's (a key from a worker whose windows fired further), else
  /// start_of_time: a window of the key before it has fired.
  [[nodiscard]] EventTime unfired_ahead(PyObject* state) const {
    PyObject* u = PyList_GET_ITEM(state, 0);
    if (u == unfired_object_.get()) [[likely]] {
      return start_of_time;
    }
    EventTime value = PyLong_AsLongLong(u);
    return value > unfired_ ? value : start_of_time;
  }
  void fire(EventTime window, WindowOutput& out);
  /// The keys of the panes in window_panes_, each once, in order of first data.
  void collect_members();
  void output_window(const Member& member, EventTime window, WindowOutput& out);
  /// The accumulator of `state`'s panes in `window` (null: none, or combine() raised with the error set).
  [[nodiscard]] python::PyRef combine_panes(PyObject* state, EventTime window);
  /// The same through the key's SlidingAggregate (windows of several panes).
  [[nodiscard]] python::PyRef slide_panes(PyObject* state, EventTime window);
  /// Appends `state`'s panes of `window` (window_panes_) that `aggregate` does not hold yet (its panes dict:
  /// `panes`). False when combine() raised (the Python error is set).
  bool take_panes(SlidingAggregate& aggregate, PyObject* panes, EventTime window);
  /// The pane at `start` changed after a window holding it fired: the key's SlidingAggregate is stale.
  void pane_changed(PyObject* state, EventTime start) {
    if (sliding_ && first_window_of(start) < next_window_) {
      if (auto at = aggregates_.find(state); at != aggregates_.end()) {
        at->second.clear();
      }
    }
  }
  /// Clears the index and fills it from the table again, handing `seen` each key's state and u.
  void index_table(const std::function<void(PyObject* state, EventTime u)>& seen);
  /// The first window of `key` that has not fired, when a rescale brought the key from a worker whose windows fired
  /// further than this one's (start_of_time otherwise).
  [[nodiscard]] EventTime moved_unfired(PyObject* state) const {
    if (moved_unfired_.empty()) [[likely]] {
      return start_of_time;
    }
    auto at = moved_unfired_.find(state);
    return at == moved_unfired_.end() ? start_of_time : at->second;
  }
  /// Removes `pane`, which no key has data in, from the index.
  void forget_pane(Pane& pane);
  /// Forgets every pane before `start` (each key's accumulator of it too).
  void prune_before(EventTime start);

  EventTime range_;
  EventTime slide_;
  EventTime delay_;
  EventTime pane_;
  bool sliding_;  ///< a window spans several panes: combined through each key's SlidingAggregate
  graph::LatePolicy policy_;
  AggregationCalls calls_;
  WindowStates states_;
  LateEvents late_;

  EventTime watermark_ = start_of_time;
  EventTime unfired_;                      ///< the first window start not fired at watermark_
  python::PyRef unfired_object_;           ///< unfired_ as a Python int (every changed key's u)
  EventTime next_window_ = start_of_time;  ///< no window before it fires again
  bool tidy_pending_ = false;  ///< a window fired and tidy() has not run since (window_members_, window_panes_: its)
  EventTime fired_window_ = start_of_time;  ///< the last window that fired
  std::map<EventTime, Pane> panes_;
  Pane* last_pane_ = nullptr;  ///< the pane of the last event (most events fall into the same pane)
  EventTime last_pane_start_ = 0;
  EventTime last_pane_last_window_ = 0;  ///< the start of the last window holding it

  /// After a rescale (keys_moved()): the keys whose windows fired further than next_window_ (on the worker that had
  /// them, or here before next_window_ went back for keys that came from a worker behind), by state object, with
  /// their u then; such a key is left out of a window before its u. Forgotten once next_window_ passed them all.
  std::unordered_map<PyObject*, EventTime> moved_unfired_;
  EventTime moved_unfired_until_ = start_of_time;  ///< the largest u in moved_unfired_

  /// Each key's running aggregate over its current window (sliding_ only), by state object.
  std::unordered_map<PyObject*, SlidingAggregate> aggregates_;
  std::size_t panes_per_window_ = 1;  ///< range / pane_
  std::size_t staggers_ = 0;          ///< SlidingAggregates made: the next one's stagger

  // fire(): reused, so that firing allocates nothing once warm.
  std::vector<std::pair<EventTime, Pane*>> window_panes_;
  std::vector<const Member*> window_members_;
  std::vector<PyObject*> seen_;
};

}  // namespace roo::window
