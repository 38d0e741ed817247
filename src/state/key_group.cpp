#include "roo/state/key_group.hpp"

namespace roo::state {

std::uint64_t stable_hash(std::string_view bytes) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::int64_t key_group_of(PyObject* key, std::uint32_t key_groups) {
  std::string_view bytes;
  PyObject* text = nullptr;
  if (PyUnicode_Check(key)) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(key, &size);  // cached inside the str object
    if (data == nullptr) {
      return -1;
    }
    bytes = {data, static_cast<std::size_t>(size)};
  } else if (PyBytes_Check(key)) {
    bytes = {PyBytes_AS_STRING(key), static_cast<std::size_t>(PyBytes_GET_SIZE(key))};
  } else {
    text = PyObject_Str(key);
    if (text == nullptr) {
      return -1;
    }
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(text, &size);
    if (data == nullptr) {
      Py_DECREF(text);
      return -1;
    }
    bytes = {data, static_cast<std::size_t>(size)};
  }
  auto group = static_cast<std::int64_t>(stable_hash(bytes) % key_groups);
  Py_XDECREF(text);
  return group;
}

}  // namespace roo::state
