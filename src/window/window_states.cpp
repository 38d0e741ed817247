#include "window_states.hpp"

#include "roo/core/logging.hpp"

namespace roo::window {

void WindowStates::restore_each(const char* kind, const std::function<bool(PyObject*)>& well_formed,
                                const std::function<PyObject*()>& fresh,
                                const std::function<void(PyObject*, PyObject*)>& index) {
  static auto log = core::module_logger("window");
  std::size_t malformed = 0;
  Py_ssize_t position = 0;
  PyObject* key = nullptr;
  PyObject* state = nullptr;
  while (PyDict_Next(table_.states(), &position, &key, &state)) {
    if (!well_formed(state)) {
      ++malformed;
      if (PyObject* replacement = fresh()) {
        PyDict_SetItem(table_.states(), key, replacement);  // a value replaced under its key: the walk goes on
        Py_DECREF(replacement);
      }
      PyErr_Clear();
      continue;
    }
    index(key, state);
  }
  if (malformed > 0) {
    log->error("{}: {} restored window states were not {} window states; their windows are lost", errors_.label(),
               malformed, kind);
  }
}

}  // namespace roo::window
