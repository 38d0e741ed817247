#pragma once

#include "roo/python/py_ref.hpp"

#include <Python.h>

#include <string>

namespace roo::window {

/// The four methods of one Aggregation instance (Wallaroo's contract, spec §1.3.4), looked up once and called with
/// vectorcall: a window stage calls update() for every event. Each call returns a new reference, or null with the
/// Python exception set (the caller reports it through its StepErrors). Lives on the Python executor.
class AggregationCalls {
 public:
  /// Looks the methods up on `aggregation`. Throws core::Error naming the stage (`label`) and the method when one
  /// is missing or not callable.
  AggregationCalls(PyObject* aggregation, const std::string& label);

  /// initial_accumulator()
  [[nodiscard]] PyObject* initial_accumulator() const {
    return PyObject_Vectorcall(initial_accumulator_.get(), nullptr, 0, nullptr);
  }
  /// update(data, acc): mutates acc; a result other than None (and acc) is the new accumulator (Roo's extension,
  /// for accumulators that are ints or tuples).
  [[nodiscard]] PyObject* update(PyObject* data, PyObject* acc) const { return call2(update_.get(), data, acc); }
  /// combine(acc1, acc2): the accumulator of both (must not mutate either).
  [[nodiscard]] PyObject* combine(PyObject* first, PyObject* second) const {
    return call2(combine_.get(), first, second);
  }
  /// output(key, acc): the window's output; None means no output.
  [[nodiscard]] PyObject* output(PyObject* key, PyObject* acc) const { return call2(output_.get(), key, acc); }

  /// update() then output() on a fresh accumulator: the output of a window holding `data` alone (a late event
  /// under fire-per-message). Returns a new reference, or null with the exception set.
  [[nodiscard]] PyObject* output_alone(PyObject* key, PyObject* data) const;

 private:
  static PyObject* call2(PyObject* callable, PyObject* first, PyObject* second) {
    PyObject* args[3] = {nullptr, first, second};
    return PyObject_Vectorcall(callable, args + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
  }

  python::PyRef initial_accumulator_;
  python::PyRef update_;
  python::PyRef combine_;
  python::PyRef output_;
};

}  // namespace roo::window
