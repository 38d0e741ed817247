#include "roo/state/marshal_codec.hpp"

#include "roo/python/py_ref.hpp"

#include <marshal.h>

namespace roo::state {

namespace {

bool scalar(PyObject* value) {
  PyTypeObject* type = Py_TYPE(value);
  return value == Py_None || type == &PyUnicode_Type || type == &PyLong_Type || type == &PyBool_Type ||
         type == &PyBytes_Type || type == &PyFloat_Type || type == &PyComplex_Type;
}

}  // namespace

bool MarshalCodec::fits(PyObject* value, int depth, std::size_t& budget) {
  if (budget == 0) {
    return false;  // large, or shared many times over (walked as a tree, a DAG can cost 2^depth): pickle
  }
  --budget;
  PyTypeObject* type = Py_TYPE(value);
  if (scalar(value)) {
    return true;
  }
  if (depth >= max_depth) {
    return false;  // deeper, or a container that holds itself: pickle knows how
  }
  if (type == &PyTuple_Type || type == &PyList_Type) {
    PyObject** items = PySequence_Fast_ITEMS(value);
    for (Py_ssize_t i = 0, n = PySequence_Fast_GET_SIZE(value); i < n; ++i) {
      if (!fits(items[i], depth + 1, budget)) {
        return false;
      }
    }
    return true;
  }
  if (type == &PyDict_Type) {
    Py_ssize_t position = 0;
    PyObject* key = nullptr;
    PyObject* item = nullptr;
    while (PyDict_Next(value, &position, &key, &item)) {
      if (!fits(key, depth + 1, budget) || !fits(item, depth + 1, budget)) {
        return false;
      }
    }
    return true;
  }
  if (type == &PySet_Type || type == &PyFrozenSet_Type) {
    python::PyRef items = python::PyRef::steal(PyObject_GetIter(value));
    while (items) {
      python::PyRef item = python::PyRef::steal(PyIter_Next(items.get()));
      if (!item) {
        break;
      }
      if (!fits(item.get(), depth + 1, budget)) {
        return false;
      }
    }
    if (PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
    return true;
  }
  return false;
}

bool MarshalCodec::write(PyObject* value, int version, std::string& out) {
  python::PyRef bytes = python::PyRef::steal(PyMarshal_WriteObjectToString(value, version));
  if (!bytes) {
    PyErr_Clear();  // e.g. a set marshal cannot sort, a str over 2 GiB: the caller's pickle takes it
    return false;
  }
  out.push_back(tag);
  out.append(PyBytes_AS_STRING(bytes.get()), static_cast<std::size_t>(PyBytes_GET_SIZE(bytes.get())));
  return true;
}

bool MarshalCodec::write(PyObject* value, std::string& out) {
  // A scalar, or one container of scalars (what fits with one level left): nothing in it can be shared with
  // anything else in it that matters (scalars are immutable), so version 2, without the table of the objects seen,
  // writes it as well.
  std::size_t budget = max_nodes;
  return write(value, fits(value, max_depth - 1, budget) ? 2 : Py_MARSHAL_VERSION, out);
}

bool MarshalCodec::write_key(PyObject* key, std::string& out) {
  if (PyUnicode_CheckExact(key)) {
    // The str's own UTF-8 (cached in it): no allocation, and no re-encoding as marshal's version 2 does.
    Py_ssize_t size = 0;
    if (const char* utf8 = PyUnicode_AsUTF8AndSize(key, &size)) {
      out.push_back(text_tag);
      out.append(utf8, static_cast<std::size_t>(size));
      return true;
    }
    PyErr_Clear();  // a lone surrogate: marshal writes it (surrogatepass), always the same way
  }
  return write(key, 2, out);
}

std::optional<std::string_view> MarshalCodec::str_key_utf8(std::string_view bytes) {
  if (!bytes.empty() && bytes.front() == text_tag) {
    return bytes.substr(1);  // written from PyUnicode_AsUTF8AndSize: valid UTF-8
  }
  // A str key written by an older Roo, or one with a lone surrogate: marshal version 2, TYPE_UNICODE ('u'), a u32
  // little-endian length and its UTF-8 (surrogatepass).
  constexpr std::size_t header = 1 + 1 + 4;
  if (bytes.size() < header || bytes[0] != tag || bytes[1] != 'u') {
    return std::nullopt;
  }
  std::uint32_t size = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    size |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[2 + i])) << (8 * i);
  }
  if (bytes.size() != header + size) {
    return std::nullopt;
  }
  auto utf8 = bytes.substr(header);
  for (std::size_t at = utf8.find('\xED'); at != std::string_view::npos; at = utf8.find('\xED', at + 1)) {
    if (at + 1 < utf8.size() && static_cast<unsigned char>(utf8[at + 1]) >= 0xA0) {
      return std::nullopt;  // an encoded surrogate: not valid UTF-8
    }
  }
  return utf8;
}

PyObject* MarshalCodec::read(std::string_view bytes) {
  if (!made(bytes)) {
    PyErr_SetString(PyExc_ValueError, "not a marshalled value");
    return nullptr;
  }
  if (bytes.front() == text_tag) {
    return PyUnicode_DecodeUTF8(bytes.data() + 1, static_cast<Py_ssize_t>(bytes.size() - 1), "strict");
  }
  return PyMarshal_ReadObjectFromString(bytes.data() + 1, static_cast<Py_ssize_t>(bytes.size() - 1));
}

}  // namespace roo::state
