#pragma once

#include "roo/python/user_errors.hpp"
#include "roo/state/keyed_state_table.hpp"

#include <Python.h>

#include <cstdint>
#include <functional>

namespace roo::window {

/// How a window operator finds and adds a key's window state (a plain Python list) in its KeyedStateTable: one
/// dict lookup per event. Lives on the Python executor.
class WindowStates {
 public:
  WindowStates(state::KeyedStateTable& table, python::StepErrors& errors) : table_(table), errors_(errors) {}

  /// The state of `key` (borrowed), or null: `failed` false when the key has none yet, true when the key cannot
  /// be used (unhashable; reported, the event is lost).
  [[nodiscard]] PyObject* find(PyObject* key, bool& failed) {
    PyObject* state = PyDict_GetItemWithError(table_.states(), key);
    failed = false;
    if (state == nullptr && PyErr_Occurred() != nullptr) {
      errors_.report_exception("could not use the key of its event:");
      failed = true;
    }
    return state;
  }

  /// Makes `fresh` (a new reference, stolen; may be null after a failed allocation) the state of a key that has
  /// none. Returns it borrowed (the table holds it), or null (reported).
  [[nodiscard]] PyObject* add(PyObject* key, PyObject* fresh) {
    if (fresh == nullptr) {
      errors_.report_exception("could not create window state:");
      return nullptr;
    }
    table_.created(fresh);
    int failed = PyDict_SetItem(table_.states(), key, fresh);
    Py_DECREF(fresh);
    if (failed != 0) {
      errors_.report_exception("could not use the key of its event:");
      return nullptr;
    }
    table_.remember_key(key);
    return fresh;
  }

  /// The state of `key` (borrowed); a key without one gets `fresh()` (a new reference, see add()). Null when the
  /// key cannot be used or no state could be made (reported; the event is lost).
  template <typename Fresh>
  [[nodiscard]] PyObject* find_or_add(PyObject* key, Fresh&& fresh) {
    bool failed = false;
    PyObject* state = find(key, failed);
    if (state == nullptr && !failed) {
      state = add(key, fresh());
    }
    return state;
  }

  /// `state` of `key` changed: into the next checkpoint.
  void touch(PyObject* key, PyObject* state) { table_.touch(key, state); }

  /// Recovery: walks every restored state. One that `well_formed` rejects (written by another kind of window
  /// stage) is replaced by `fresh()` (a new reference) and its windows are lost, counted and logged once as not
  /// `kind` window states; every other is handed to `index(key, state)` (both borrowed) to rebuild the operator's
  /// indexes.
  void restore_each(const char* kind, const std::function<bool(PyObject*)>& well_formed,
                    const std::function<PyObject*()>& fresh, const std::function<void(PyObject*, PyObject*)>& index);

  [[nodiscard]] PyObject* dict() const { return table_.states(); }
  [[nodiscard]] python::StepErrors& errors() { return errors_; }

 private:
  state::KeyedStateTable& table_;
  python::StepErrors& errors_;
};

/// Sets item `index` of `list` to a new reference (stolen), keeping the old value when `value` is null (a failed
/// allocation; the error is cleared: the next change sets it again).
inline void set_item(PyObject* list, Py_ssize_t index, PyObject* value) {
  if (value == nullptr) {
    PyErr_Clear();
    return;
  }
  PyObject* old = PyList_GET_ITEM(list, index);
  PyList_SET_ITEM(list, index, value);
  Py_XDECREF(old);
}

/// Item `index` of `list` as an int64 (0 when it is not an int).
[[nodiscard]] inline std::int64_t int_item(PyObject* list, Py_ssize_t index) {
  long long value = PyLong_AsLongLong(PyList_GET_ITEM(list, index));
  if (value == -1 && PyErr_Occurred() != nullptr) {
    PyErr_Clear();
    return 0;
  }
  return value;
}

}  // namespace roo::window
