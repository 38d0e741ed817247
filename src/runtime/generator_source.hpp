#pragma once

#include "pipeline_runner.hpp"

#include "roo/graph/plan.hpp"
#include "roo/python/py_ref.hpp"
#include "roo/python/user_errors.hpp"

#include <cstddef>

namespace roo::runtime {

/// Wallaroo's GenSource: emits `initial_value()`, then `apply(previous)` again and again, as fast as the
/// sinks take it, until either returns None. Runs on the Python executor, between input batches.
class GeneratorSource {
 public:
  /// `plan` is a generator source's (its settings are GeneratorSourceSettings) and outlives this object.
  GeneratorSource(std::size_t source_index, const graph::SourcePlan& plan);

  /// Emits up to `count` values through `runner`. Returns false once the generator has finished.
  bool emit(PipelineRunner& runner, std::size_t count);

  [[nodiscard]] bool finished() const { return finished_; }
  void finish() { finished_ = true; }

  [[nodiscard]] std::size_t source_index() const { return source_index_; }
  /// Where the generator is, for a checkpoint: a new tuple (started, ended, last value emitted); the next value
  /// is apply(last value). Null with a Python error set when the tuple cannot be made.
  [[nodiscard]] python::PyRef position() const;
  /// Recovery: continue from a position() taken earlier. Returns false (nothing changed) when `position` is not one.
  bool seek(PyObject* position);

 private:
  std::size_t source_index_;
  const graph::SourcePlan& plan_;
  const graph::GeneratorSourceSettings& settings_;
  python::PyRef next_;
  bool started_ = false;
  bool finished_ = false;
  bool exhausted_ = false;  ///< ended by itself (a None or a raise), not by a stop: a restart does not resume it
  python::StepErrors errors_;
};

}  // namespace roo::runtime
