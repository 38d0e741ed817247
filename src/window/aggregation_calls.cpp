#include "aggregation_calls.hpp"

#include "roo/core/error.hpp"

#include <fmt/format.h>

namespace roo::window {
namespace {

python::PyRef method_of(PyObject* aggregation, const char* name, const char* arguments, const std::string& label) {
  python::PyRef method = python::PyRef::steal(PyObject_GetAttrString(aggregation, name));
  if (!method || PyCallable_Check(method.get()) == 0) {
    PyErr_Clear();
    throw core::Error(fmt::format("use aggregation {} in '{}': it has no method {}({})", Py_TYPE(aggregation)->tp_name,
                                  label, name, arguments));
  }
  return method;
}

}  // namespace

AggregationCalls::AggregationCalls(PyObject* aggregation, const std::string& label)
    : initial_accumulator_(method_of(aggregation, "initial_accumulator", "", label)),
      update_(method_of(aggregation, "update", "data, acc", label)),
      combine_(method_of(aggregation, "combine", "acc1, acc2", label)),
      output_(method_of(aggregation, "output", "key, acc", label)) {}

PyObject* AggregationCalls::output_alone(PyObject* key, PyObject* data) const {
  python::PyRef acc = python::PyRef::steal(initial_accumulator());
  if (!acc) {
    return nullptr;
  }
  python::PyRef result = python::PyRef::steal(update(data, acc.get()));
  if (!result) {
    return nullptr;
  }
  if (result.get() != Py_None) {
    acc = result;
  }
  return output(key, acc.get());
}

}  // namespace roo::window
