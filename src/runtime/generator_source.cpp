#include "generator_source.hpp"

#include "roo/core/logging.hpp"

#include <fmt/format.h>

namespace roo::runtime {

GeneratorSource::GeneratorSource(std::size_t source_index, const graph::SourcePlan& plan)
    : source_index_(source_index),
      plan_(plan),
      settings_(std::get<graph::GeneratorSourceSettings>(plan.settings)),
      errors_(fmt::format("generator of source '{}'", plan.name)) {}

bool GeneratorSource::emit(PipelineRunner& runner, std::size_t count) {
  static auto log = core::module_logger("runtime");
  for (std::size_t i = 0; i < count && !finished_; ++i) {
    runner.watch().enter(&errors_.label(), nullptr);
    PyObject* value = started_ ? PyObject_CallOneArg(settings_.apply.get(), next_.get())
                               : PyObject_CallNoArgs(settings_.initial_value.get());
    runner.watch().leave();
    started_ = true;
    if (value == nullptr) {
      // Without a value there is no next one to compute: the generator ends here.
      errors_.report_exception();
      log->error("source '{}': the generator raised; it stops here", plan_.name);
      finished_ = true;
      exhausted_ = true;
      runner.finish_source(source_index_);
      break;
    }
    next_ = python::PyRef::steal(value);
    if (value == Py_None) {
      log->info("source '{}': GenSource produced a None. Stopping GenSource.", plan_.name);
      finished_ = true;
      exhausted_ = true;
      runner.finish_source(source_index_);
      break;
    }
    runner.process_value(source_index_, value);
  }
  return !finished_;
}

python::PyRef GeneratorSource::position() const {
  return python::PyRef::steal(Py_BuildValue("(OOO)", started_ ? Py_True : Py_False, exhausted_ ? Py_True : Py_False,
                                            next_ ? next_.get() : Py_None));
}

bool GeneratorSource::seek(PyObject* position) {
  if (!PyTuple_Check(position) || PyTuple_GET_SIZE(position) != 3) {
    return false;
  }
  started_ = PyObject_IsTrue(PyTuple_GET_ITEM(position, 0)) == 1;
  exhausted_ = PyObject_IsTrue(PyTuple_GET_ITEM(position, 1)) == 1;
  finished_ = exhausted_;
  next_ = python::PyRef::borrow(PyTuple_GET_ITEM(position, 2));
  return true;
}

}  // namespace roo::runtime
