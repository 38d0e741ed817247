#pragma once

#include "roo/python/py_ref.hpp"

#include <Python.h>

#include <string>
#include <string_view>
#include <unordered_map>

namespace roo::state {

/// State objects of plain classes — a Python class of the application's with no pickling methods of its own
/// (`__reduce__`, `__reduce_ex__`, `__getstate__`, `__setstate__`, `__getnewargs__`, `__getnewargs_ex__`), no
/// `__slots__`, no attribute hooks and no metaclass — are written as their class's name and their attribute dict
/// (through marshal when it holds only built-in data, MarshalCodec; pickle otherwise) rather than through pickle's
/// default reduce:
/// - reading one back costs about a third (no import per object, no reduce/build protocol): most of a recovery's
///   time with a million keys;
/// - CPython 3.11 keeps a plain object's attributes inline until its `__dict__` is asked for, and attribute access on
///   it stays about twice as slow after that (pickling asks for it). So when a checkpoint has read an object that only
///   its table holds, the table gets a fresh copy with inline attributes instead (an object anything else holds keeps
///   its identity, and its slower attributes).
/// The bytes start with a tag byte pickle never starts with. Lives on the executor (the GIL held).
class PlainObjectCodec {
 public:
  /// `dumps`/`loads`: pickle's, for the attribute dicts.
  PlainObjectCodec(python::PyRef dumps, python::PyRef loads);

  enum class Written { not_plain, written, failed };
  /// Appends `state`'s bytes to `out` when its class is plain (`written`); `failed` leaves a Python error set (an
  /// attribute pickle refuses). With `written`, `replacement` is a fresh copy to put in the table, or null when the
  /// object must keep its identity (`holders`: the references the caller knows of, e.g. 1 for the table's).
  Written write(PyObject* state, Py_ssize_t holders, std::string& out, python::PyRef& replacement);

  /// Whether `bytes` were made by write().
  [[nodiscard]] static bool made(std::string_view bytes) { return !bytes.empty() && bytes.front() == tag; }
  /// The object `bytes` describe (a new reference), or null with a Python error set.
  [[nodiscard]] PyObject* read(std::string_view bytes);

 private:
  static constexpr char tag = '\x01';

  struct ClassInfo {
    bool plain = false;
    std::string header;  ///< tag | u32 module length | module | u32 qualname length | qualname
  };
  const ClassInfo& info(PyTypeObject* type);
  [[nodiscard]] PyObject* resolve(std::string_view module, std::string_view qualname);
  void remember_last(std::string_view module, std::string_view qualname, PyObject* type);
  /// A new instance of `type` whose attributes are `attributes`' items (set one by one: they stay inline).
  [[nodiscard]] PyObject* fresh(PyTypeObject* type, PyObject* attributes);

  python::PyRef dumps_;
  python::PyRef loads_;
  python::PyRef empty_args_;
  std::unordered_map<PyTypeObject*, ClassInfo> classes_;        ///< the types seen (kept alive by their objects)
  std::unordered_map<std::string, python::PyRef> by_name_;      ///< "module\nqualname" -> class, when reading
  std::string last_module_;                                     ///< the class resolve() found last (held by by_name_)
  std::string last_qualname_;
  PyObject* last_class_ = nullptr;
};

}  // namespace roo::state
