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
  GeneratorSource(std::size_t source_index, const graph::SourcePlan& plan);

  /// Emits up to `count` values through `runner`. Returns false once the generator has finished.
  bool emit(PipelineRunner& runner, std::size_t count);

  [[nodiscard]] bool finished() const { return finished_; }
  void finish() { finished_ = true; }

 private:
  std::size_t source_index_;
  const graph::SourcePlan& plan_;
  python::PyRef next_;
  bool started_ = false;
  bool finished_ = false;
  python::StepErrors errors_;
};

}  // namespace roo::runtime
