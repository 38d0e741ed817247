#pragma once

#include "roo/graph/plan.hpp"

#include <pybind11/embed.h>

#include <utility>

namespace roo::graph::test {

/// The description of one of the fixture apps in tests/python/fixtures/plan_apps.py.
template <typename... Args>
pybind11::object description_of(const char* app, Args&&... args) {
  return pybind11::module_::import("plan_apps").attr(app)(std::forward<Args>(args)...);
}

/// The plan of one of the fixture apps in tests/python/fixtures/plan_apps.py.
template <typename... Args>
Plan plan_of(const char* app, Args&&... args) {
  pybind11::object description = description_of(app, std::forward<Args>(args)...);
  return read_plan(description.ptr());
}

}  // namespace roo::graph::test
