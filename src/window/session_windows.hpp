#pragma once

#include "aggregation_calls.hpp"
#include "late_events.hpp"
#include "time_arithmetic.hpp"
#include "window_states.hpp"

#include "roo/python/py_ref.hpp"
#include "roo/window/window_operator.hpp"

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace roo::window {

/// `session_windows(gap).with_delay(delay)` over an Aggregation (docs/windows.md): per key, an event within `gap`
/// of a session joins it (t >= start - gap and t < last + gap), an event bridging two sessions merges them
/// (combine), and a session [start, last] is output (at time `last`) when the watermark reaches last + gap + delay.
/// An event before the end (last + gap) of a session already output is late (never a second session overlapping an
/// output one); so is one with t + gap + delay <= watermark, unless it joins a session still open.
///
/// A key's state is the list [closed_until, [[start, last, accumulator], ...]] with sessions in time order.
/// Beside the table, a min-heap of (due, key): one current entry per key with sessions, for its first session;
/// entries whose session grew since are moved when they reach the top. Lives on the Python executor.
class SessionWindows final : public WindowOperator {
 public:
  SessionWindows(const WindowSpec& spec, PyObject* aggregation, state::KeyedStateTable& table,
                 python::StepErrors& errors);

  void add(PyObject* key, PyObject* data, EventTime time, EventTime watermark, WindowOutput& out) override;
  void advance(EventTime watermark, WindowOutput& out) override;
  void tick(std::int64_t /*wall_now_ns*/, WindowOutput& /*out*/) override {}
  [[nodiscard]] EventTime next_due() const override;
  [[nodiscard]] std::int64_t next_tick() const override { return end_of_time; }
  void restored() override;
  [[nodiscard]] std::uint64_t late_events() const override { return late_.total(); }

 private:
  struct Due {
    EventTime at;
    std::uint64_t order;  ///< ties: first scheduled first
    python::PyRef key;
    python::PyRef state;
  };

  enum class Joined {
    yes,   ///< into a session (a new one, or one or more that merged)
    late,  ///< `only_joins` and within gap of no open session
    lost,  ///< user code raised (reported)
  };

  void add_late(PyObject* key, PyObject* data, PyObject* state, EventTime time, WindowOutput& out);
  /// Puts `data` into the sessions of `state`: one it is within gap of (merging those it bridges), else a new one
  /// unless `only_joins`.
  Joined join(PyObject* key, PyObject* state, PyObject* data, EventTime time, bool only_joins);
  [[nodiscard]] EventTime due_of(PyObject* session) const;
  /// Makes (due of the first session of `state`, key) the key's current heap entry, if it has sessions.
  void schedule(PyObject* key, PyObject* state) const;
  /// Moves the heap's top to where it belongs until it is current and exact (or the heap is empty).
  void settle() const;
  void pop() const;
  void fire_first(PyObject* key, PyObject* state, WindowOutput& out);

  EventTime gap_;
  EventTime delay_;
  graph::LatePolicy policy_;
  AggregationCalls calls_;
  WindowStates states_;
  LateEvents late_;
  EventTime watermark_ = start_of_time;
  python::PyRef no_close_;  ///< closed_until of a key with no session output yet

  // The heap and each state's current entry (by its due); mutable: next_due() settles the top.
  mutable std::vector<Due> heap_;
  mutable std::unordered_map<PyObject*, EventTime> scheduled_;
  mutable std::uint64_t order_ = 0;
};

}  // namespace roo::window
