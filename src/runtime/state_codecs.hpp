#pragma once

#include "roo/graph/plan.hpp"
#include "roo/python/py_ref.hpp"
#include "roo/state/keyed_state_table.hpp"

#include <cstddef>
#include <vector>

namespace roo::runtime {

/// How each state table's keys and states become bytes and back, wherever state leaves the executor: checkpoints
/// (CheckpointCoordinator) and key groups handed to another worker in a rescale (KeyGroupHandover), so both write
/// the same bytes. Keys: marshal when built-in data (state::MarshalCodec), pickle otherwise. An application's states:
/// its serialize/deserialize when it has them (Wallaroo's rule); otherwise built-in data through marshal, plain
/// objects through the PlainObjectCodec, the rest through pickle. A window stage's states: never the application's
/// serialize (their layout is Roo's, not the application's). Made once per worker from the plan; lives on the executor
/// (holds Python objects).
class StateCodecs {
 public:
  /// Throws core::Error when pickle cannot be imported.
  explicit StateCodecs(const graph::Plan& plan);

  /// The codec of state table `table` (its index in Plan::state_tables).
  [[nodiscard]] const state::StateCodec& of(std::size_t table) const {
    return is_window(table) ? window_ : application_;
  }
  /// Whether state table `table` holds a window stage's per-key windows.
  [[nodiscard]] bool is_window(std::size_t table) const {
    return table < window_tables_.size() && window_tables_[table];
  }

 private:
  state::StateCodec application_;
  state::StateCodec window_;
  std::vector<bool> window_tables_;  ///< per state table: a window stage's
};

}  // namespace roo::runtime
