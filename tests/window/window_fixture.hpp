#pragma once

// What every window operator test uses: an operator over an aggregation of tests/python/fixtures/
// window_aggregations.py with its own KeyedStateTable and StepErrors, and a WindowOutput that records each output
// as "key=output@time".
#include "roo/python/py_ref.hpp"
#include "roo/python/user_errors.hpp"
#include "roo/state/keyed_state_table.hpp"
#include "roo/window/window_operator.hpp"

#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include <memory>
#include <string>
#include <vector>

namespace roo::window::test {

namespace py = pybind11;

class RecordedOutputs final : public WindowOutput {
 public:
  void emit(PyObject* key, PyObject* output, EventTime time) override {
    lines.push_back(py::str(py::handle(key)).cast<std::string>() + "=" +
                    py::str(py::handle(output)).cast<std::string>() + "@" + std::to_string(time));
  }
  /// The lines so far, forgotten.
  std::vector<std::string> take() { return std::exchange(lines, {}); }
  std::vector<std::string> lines;
};

/// One window stage: its table, errors and operator.
class WindowStage {
 public:
  WindowStage(const WindowSpec& spec, const char* aggregation, std::string label = "windows over Collect")
      : aggregation_(
            python::PyRef::steal(py::module_::import("window_aggregations").attr(aggregation)().release().ptr())),
        table("windows", label, python::PyRef::borrow(Py_None)),
        errors(label),
        op(make_window_operator(spec, aggregation_.get(), table, errors)) {}

  void add(const py::object& key, const py::object& data, EventTime time) {
    op->add(key.ptr(), data.ptr(), time, watermark, out);
  }
  void add(const char* key, const char* data, EventTime time) { add(py::str(key), py::str(data), time); }
  void advance(EventTime to) {
    watermark = to;
    op->advance(to, out);
  }
  /// What the runner does once a firing's outputs left (otherwise the next add() or advance() does it).
  void tidy() { op->tidy(out); }
  /// Replaces the table's contents by a pickled copy of them (a checkpoint and a recovery), then restored().
  void checkpoint_and_restore() {
    py::module_ pickle = py::module_::import("pickle");
    py::object copy = pickle.attr("loads")(pickle.attr("dumps")(py::handle(table.states())));
    PyDict_Clear(table.states());
    ASSERT_EQ(PyDict_Update(table.states(), copy.ptr()), 0);
    op->restored();
  }

 private:
  python::PyRef aggregation_;

 public:
  state::KeyedStateTable table;
  python::StepErrors errors;
  std::unique_ptr<WindowOperator> op;
  RecordedOutputs out;
  EventTime watermark = graph::start_of_time;
};

inline WindowSpec range_spec(EventTime range, EventTime slide, EventTime delay,
                             graph::LatePolicy policy = graph::LatePolicy::drop) {
  return WindowSpec{.kind = WindowSpec::Kind::range, .range = range, .slide = slide, .delay = delay,
                    .late_policy = policy};
}

inline WindowSpec session_spec(EventTime gap, EventTime delay, graph::LatePolicy policy = graph::LatePolicy::drop) {
  return WindowSpec{.kind = WindowSpec::Kind::session, .delay = delay, .gap = gap, .late_policy = policy};
}

inline WindowSpec count_spec(std::uint64_t count, std::int64_t timeout_ns) {
  return WindowSpec{.kind = WindowSpec::Kind::count, .count = count, .count_timeout_ns = timeout_ns};
}

using Lines = std::vector<std::string>;

}  // namespace roo::window::test
