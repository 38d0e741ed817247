#pragma once

#include "aggregation_calls.hpp"
#include "window_states.hpp"

#include "roo/python/py_ref.hpp"
#include "roo/window/window_operator.hpp"

#include <cstdint>
#include <deque>

namespace roo::window {

/// `count_windows(n)` over an Aggregation: per key, an output at every n-th event (at that event's time), and a
/// partial window (at least one event) output count_timeout_ns of wall clock after its first event (at its last
/// event's time). No lateness.
///
/// A key's state is the list [events, accumulator or None, deadline (wall ns), last event time]. Beside the table,
/// the open windows in order of their deadline (each deadline unique, so a queued one is recognised as still
/// current by its value). Lives on the Python executor.
class CountWindows final : public WindowOperator {
 public:
  CountWindows(const WindowSpec& spec, PyObject* aggregation, state::KeyedStateTable& table,
               python::StepErrors& errors);

  void add(PyObject* key, PyObject* data, EventTime time, EventTime watermark, WindowOutput& out) override;
  void advance(EventTime /*watermark*/, WindowOutput& /*out*/) override {}
  void tick(std::int64_t wall_now_ns, WindowOutput& out) override;
  [[nodiscard]] EventTime next_due() const override { return end_of_time; }
  [[nodiscard]] std::int64_t next_tick() const override;
  void restored() override;
  [[nodiscard]] std::uint64_t late_events() const override { return 0; }

 private:
  struct Deadline {
    std::int64_t at;
    python::PyRef key;
    python::PyRef state;
  };

  /// Outputs the window in `state` and empties it.
  void output(PyObject* key, PyObject* state, EventTime time, WindowOutput& out);
  /// Drops queued deadlines whose window has already been output.
  void drop_stale() const;

  std::uint64_t count_;
  std::int64_t timeout_;
  AggregationCalls calls_;
  WindowStates states_;
  mutable std::deque<Deadline> deadlines_;
  std::int64_t last_deadline_ = 0;
};

}  // namespace roo::window
