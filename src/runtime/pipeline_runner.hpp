#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "roo/core/frame_batch.hpp"
#include "roo/graph/plan.hpp"
#include "roo/python/user_errors.hpp"

namespace roo::runtime {

/// Runs events through the plan's flows: decode, stages (stateless, key_by, keyed state), encode, and
/// appends the encoded bytes to one output buffer per sink. This is the per-event hot path: it takes no
/// lock, allocates nothing in C++, and calls user functions with PyObject_Vectorcall. A raising or
/// misbehaving user function costs only its event (counted and logged by that step's StepErrors).
/// Lives on the Python executor; call only with the GIL held.
class PipelineRunner {
 public:
  explicit PipelineRunner(graph::Plan& plan);

  /// Decodes every frame of `batch` with its source's decoder and runs each event through the source's flow.
  void process(const core::FrameBatch& batch);

  /// Runs one already-decoded event (a generator's value) through source `source`'s flow.
  void process_value(std::size_t source, PyObject* value);

  /// Encoded output waiting for each sink (same index as Plan::sinks); the caller hands it over and clears it.
  [[nodiscard]] std::vector<std::vector<char>>& outputs() { return outputs_; }

  [[nodiscard]] std::uint64_t events_in() const { return events_in_; }
  [[nodiscard]] std::uint64_t outputs_written() const { return outputs_written_; }
  /// Events skipped because user code raised or broke a return rule, over every step.
  [[nodiscard]] std::uint64_t failed_events() const;

 private:
  struct Stage {
    const graph::StagePlan* plan;
    PyObject* fn;
    PyObject* states;         ///< state stages: the shared dict of their table
    PyObject* state_factory;  ///< state stages
    python::StepErrors errors;
    python::StepErrors factory_errors;
  };
  struct Source {
    PyObject* decode;
    PyObject* initial_key;
    python::StepErrors errors;
  };
  struct Sink {
    PyObject* encode;
    python::StepErrors errors;
  };

  void run(const graph::Flow& flow, std::size_t position, PyObject* data, PyObject* key);
  void fan_out(const graph::Flow& flow, std::size_t position, PyObject* result, PyObject* key, Stage& stage);
  [[nodiscard]] PyObject* state_for(Stage& stage, PyObject* key);
  void emit(const graph::Flow& flow, PyObject* data);

  graph::Plan& plan_;
  std::vector<Stage> stages_;
  std::vector<Source> sources_;
  std::vector<Sink> sinks_;
  std::vector<std::vector<char>> outputs_;
  std::uint64_t events_in_ = 0;
  std::uint64_t outputs_written_ = 0;
};

}  // namespace roo::runtime
