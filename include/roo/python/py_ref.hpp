#pragma once

#include <Python.h>

#include <utility>

namespace roo::python {

/// Owns one strong reference to a Python object. Lives on the Python executor: create, copy and destroy
/// it only while holding the GIL. A thin alternative to py::object for the hot path (no pybind11 casts).
class PyRef {
 public:
  PyRef() = default;
  /// Takes ownership of a new reference (may be null).
  static PyRef steal(PyObject* object) { return PyRef(object); }
  /// Adds a reference to a borrowed object.
  static PyRef borrow(PyObject* object) {
    Py_XINCREF(object);
    return PyRef(object);
  }

  PyRef(const PyRef& other) : object_(other.object_) { Py_XINCREF(object_); }
  PyRef(PyRef&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  PyRef& operator=(PyRef other) noexcept {
    std::swap(object_, other.object_);
    return *this;
  }
  ~PyRef() { Py_XDECREF(object_); }

  [[nodiscard]] PyObject* get() const { return object_; }
  [[nodiscard]] PyObject* release() { return std::exchange(object_, nullptr); }
  explicit operator bool() const { return object_ != nullptr; }

 private:
  explicit PyRef(PyObject* object) : object_(object) {}
  PyObject* object_ = nullptr;
};

}  // namespace roo::python
