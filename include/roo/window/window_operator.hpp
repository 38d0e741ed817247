#pragma once

#include "roo/graph/window_spec.hpp"
#include "roo/python/user_errors.hpp"
#include "roo/state/keyed_state_table.hpp"

#include <Python.h>

#include <cstdint>
#include <memory>
#include <string>

namespace roo::window {

using graph::end_of_time;
using graph::EventTime;
using graph::WindowSpec;

/// Where a window stage's outputs go: the key, the aggregation's output (never None: a None output is no output)
/// and the output's event time (the last nanosecond of its window). Borrowed references, valid during the call.
/// The callee continues the event down the flow (and may route it to another worker).
class WindowOutput {
 public:
  virtual ~WindowOutput() = default;
  virtual void emit(PyObject* key, PyObject* output, EventTime time) = 0;
  /// The operator is about to call the aggregation (combine, output) to fire a window of `key` (borrowed): the
  /// runner tells its watchdog which key a call that never returns is stuck on.
  virtual void firing(PyObject* key) { (void)key; }
};

/// One window stage of one worker: the keyed windows of `range_windows`, `count_windows` or `session_windows`
/// over an Aggregation (spec §1.3.4, docs/windows.md). Keyed state: each key's open windows are one Python object
/// in `table` (a state::KeyedStateTable owned by the runner), so checkpoints snapshot and restore them like any
/// state, and the external channel lists their keys.
///
/// Time: the caller passes the stage's watermark (the minimum over its inputs, see WatermarkClock). A range window
/// [start, start + range) fires when the watermark reaches end + delay; a session when it reaches last event + gap
/// + delay; a count window at `count` events, or `count_timeout_ns` of wall clock after its first event.
///
/// User code: initial_accumulator(), update(data, acc) (mutates acc; a non-None return value replaces it, a Roo
/// extension), combine(acc1, acc2) (returns the merged accumulator, must not mutate), output(key, acc). A raising
/// call costs its event or its window: counted and logged through `errors`, nothing else stops.
///
/// Lives on the Python executor: call everything with the GIL held.
class WindowOperator {
 public:
  virtual ~WindowOperator() = default;

  /// An event of `key` with event time `time`, while the stage's watermark is `watermark`. A late event follows the
  /// late policy (fire_per_message outputs at once); a count window that fills outputs at once.
  virtual void add(PyObject* key, PyObject* data, EventTime time, EventTime watermark, WindowOutput& out) = 0;
  /// The stage's watermark reached `watermark` (never goes back): outputs every window now due, oldest first
  /// (ties: in key order of first arrival is fine; tests sort).
  virtual void advance(EventTime watermark, WindowOutput& out) = 0;
  /// After advance() output windows and the caller handed those outputs on: the work they need not wait for
  /// (forgetting panes that fired, preparing the next window). Optional for the caller: add(), advance() and
  /// restored() do what is still pending first. `out` is only told which key a call is for (firing()).
  virtual void tidy(WindowOutput& out) { (void)out; }
  /// Wall clock `wall_now_ns` (ns since the epoch): count windows output partial windows whose timeout passed.
  /// Others do nothing.
  virtual void tick(std::int64_t wall_now_ns, WindowOutput& out) = 0;

  /// The smallest watermark at which advance() would output something (end_of_time when nothing is open): the
  /// runner's timer sleeps until then instead of polling.
  [[nodiscard]] virtual EventTime next_due() const = 0;
  /// The wall clock (ns) at which tick() would next output something (end_of_time: never).
  [[nodiscard]] virtual std::int64_t next_tick() const = 0;

  /// The table was refilled from a checkpoint (or cleared): rebuild whatever indexes the operator keeps beside it.
  virtual void restored() = 0;
  /// A rescale moved keys out of the table (their key groups went to other workers) or into it (handed over by
  /// another worker, whose windows of them may have fired further than this operator's, or less far): rebuild the
  /// indexes so that no window fires for a key that left and every window of a key that came fires once. The next
  /// advance() fires what is due, whatever the watermark was before.
  virtual void keys_moved() { restored(); }

  /// Events that came after all their windows had fired (whatever the policy did with them).
  [[nodiscard]] virtual std::uint64_t late_events() const = 0;
};

/// The operator for `spec`. `aggregation` is the Aggregation instance (its bound methods are looked up once);
/// `table` holds the per-key window state (its factory is not used); `errors` counts and logs failures of the
/// aggregation's methods and is named after the stage ("range_windows over Counter"). Throws core::Error when the
/// aggregation lacks a method.
[[nodiscard]] std::unique_ptr<WindowOperator> make_window_operator(const WindowSpec& spec, PyObject* aggregation,
                                                                   state::KeyedStateTable& table,
                                                                   python::StepErrors& errors);

}  // namespace roo::window
