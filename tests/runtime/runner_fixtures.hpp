#pragma once

#include "hop_codec.hpp"
#include "pipeline_runner.hpp"

#include "roo/core/frame_batch.hpp"
#include "roo/graph/plan.hpp"

#include <pybind11/embed.h>

#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

namespace roo::runtime::test {

/// The plan of one of the fixture apps in tests/python/fixtures/runner_apps.py.
inline graph::Plan plan_of(const char* app) {
  pybind11::object description = pybind11::module_::import("runner_apps").attr(app)();
  return graph::read_plan(description.ptr());
}

/// A batch holding `frames` as payloads, from source `source`.
inline core::FrameBatch batch_of(std::initializer_list<std::string> frames, std::uint32_t source = 0) {
  core::FrameBatch batch;
  batch.source = source;
  for (const auto& frame : frames) {
    batch.append(frame.data(), frame.size());
  }
  return batch;
}

/// Pickle for the objects a hop carries, as the runtime's default ObjectCodec.
inline ObjectCodec pickle_object_codec() {
  pybind11::module_ pickle = pybind11::module_::import("pickle");
  return ObjectCodec{python::PyRef::borrow(pickle.attr("dumps").ptr()),
                     python::PyRef::borrow(pickle.attr("loads").ptr()), false};
}

/// The lines `runner` wrote to its first sink since the last call.
inline std::vector<std::string> lines_of(PipelineRunner& runner) {
  auto out = runner.outputs()[0].take();
  std::istringstream text(std::string(out.values.begin(), out.values.end()));
  std::vector<std::string> lines;
  for (std::string line; std::getline(text, line);) {
    lines.push_back(line);
  }
  return lines;
}

}  // namespace roo::runtime::test
