#pragma once

#include "roo/core/frame_batch.hpp"
#include "roo/graph/plan.hpp"

#include <pybind11/embed.h>

#include <initializer_list>
#include <string>

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

}  // namespace roo::runtime::test
