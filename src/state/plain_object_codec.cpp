#include "roo/state/plain_object_codec.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/state/marshal_codec.hpp"

#include <fmt/format.h>

namespace roo::state {
namespace {

PyObject* call1(PyObject* fn, PyObject* arg) {
  PyObject* args[2] = {nullptr, arg};
  return PyObject_Vectorcall(fn, args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
}

// True when `type` and `object` resolve `name` to the same thing (neither overrides it).
bool inherits_from_object(PyTypeObject* type, const char* name) {
  python::PyRef interned = python::PyRef::steal(PyUnicode_InternFromString(name));
  return _PyType_Lookup(type, interned.get()) == _PyType_Lookup(&PyBaseObject_Type, interned.get());
}

bool declares_slots(PyTypeObject* type) {
  PyObject* mro = type->tp_mro;
  for (Py_ssize_t i = 0; mro != nullptr && i < PyTuple_GET_SIZE(mro); ++i) {
    auto* base = reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(mro, i));
    if (base != &PyBaseObject_Type && base->tp_dict != nullptr &&
        PyDict_GetItemString(base->tp_dict, "__slots__") != nullptr) {
      return true;
    }
  }
  return false;
}

void append_str(std::string& out, std::string_view text) {
  char length[4];
  core::store_u32_be(length, static_cast<std::uint32_t>(text.size()));
  out.append(length, 4);
  out.append(text);
}

}  // namespace

PlainObjectCodec::PlainObjectCodec(python::PyRef dumps, python::PyRef loads)
    : dumps_(std::move(dumps)), loads_(std::move(loads)), empty_args_(python::PyRef::steal(PyTuple_New(0))) {}

const PlainObjectCodec::ClassInfo& PlainObjectCodec::info(PyTypeObject* type) {
  auto found = classes_.find(type);
  if (found != classes_.end()) {
    return found->second;
  }
  ClassInfo info;
  bool plain = Py_IS_TYPE(reinterpret_cast<PyObject*>(type), &PyType_Type) &&
               PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE) && PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT) &&
               type->tp_new == PyBaseObject_Type.tp_new && type->tp_setattro == PyObject_GenericSetAttr &&
               type->tp_getattro == PyObject_GenericGetAttr && !declares_slots(type);
  for (const char* name :
       {"__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__getnewargs__", "__getnewargs_ex__"}) {
    plain = plain && inherits_from_object(type, name);
  }
  python::PyRef module =
      python::PyRef::steal(plain ? PyObject_GetAttrString(reinterpret_cast<PyObject*>(type), "__module__") : nullptr);
  python::PyRef qualname =
      python::PyRef::steal(plain ? PyObject_GetAttrString(reinterpret_cast<PyObject*>(type), "__qualname__") : nullptr);
  const char* module_text = module && PyUnicode_Check(module.get()) ? PyUnicode_AsUTF8(module.get()) : nullptr;
  const char* qualname_text = qualname && PyUnicode_Check(qualname.get()) ? PyUnicode_AsUTF8(qualname.get()) : nullptr;
  PyErr_Clear();
  // A class defined inside a function ("f.<locals>.State") cannot be found again by its name.
  if (module_text != nullptr && qualname_text != nullptr &&
      std::string_view(qualname_text).find('<') == std::string_view::npos) {
    info.plain = true;
    info.header.push_back(tag);
    append_str(info.header, module_text);
    append_str(info.header, qualname_text);
  }
  Py_INCREF(type);  // kept while the codec remembers it
  return classes_.emplace(type, std::move(info)).first->second;
}

PlainObjectCodec::Written PlainObjectCodec::write(PyObject* state, Py_ssize_t holders, std::string& out,
                                                  python::PyRef& replacement) {
  replacement = python::PyRef();
  PyTypeObject* type = Py_TYPE(state);
  const ClassInfo& known = info(type);
  if (!known.plain) {
    return Written::not_plain;
  }
  python::PyRef attributes = python::PyRef::steal(PyObject_GenericGetDict(state, nullptr));
  if (!attributes) {
    return Written::failed;
  }
  out.assign(known.header);
  if (!MarshalCodec::fits(attributes.get()) || !MarshalCodec::write(attributes.get(), out)) {
    python::PyRef pickled = python::PyRef::steal(call1(dumps_.get(), attributes.get()));
    if (!pickled) {
      return Written::failed;
    }
    out.append(PyBytes_AS_STRING(pickled.get()), static_cast<std::size_t>(PyBytes_GET_SIZE(pickled.get())));
  }
  // Only the caller's known holders: nobody can tell the copy from the original.
  if (Py_REFCNT(state) == holders) {
    replacement = python::PyRef::steal(fresh(type, attributes.get()));
    PyErr_Clear();  // no copy: the original stays, with its slower attributes
  }
  return Written::written;
}

PyObject* PlainObjectCodec::fresh(PyTypeObject* type, PyObject* attributes) {
  PyObject* object = PyBaseObject_Type.tp_new(type, empty_args_.get(), nullptr);
  if (object == nullptr) {
    return nullptr;
  }
  Py_ssize_t position = 0;
  PyObject* name = nullptr;
  PyObject* value = nullptr;
  while (PyDict_Next(attributes, &position, &name, &value)) {
    if (!PyUnicode_Check(name) || PyObject_GenericSetAttr(object, name, value) != 0) {
      Py_DECREF(object);
      return nullptr;
    }
  }
  return object;
}

PyObject* PlainObjectCodec::resolve(std::string_view module, std::string_view qualname) {
  // A restore reads a million objects of one or two classes: the last one found is checked first, without building
  // a name.
  if (last_class_ != nullptr && module == last_module_ && qualname == last_qualname_) {
    return last_class_;
  }
  std::string name = std::string(module) + "\n" + std::string(qualname);
  if (auto found = by_name_.find(name); found != by_name_.end()) {
    remember_last(module, qualname, found->second.get());
    return found->second.get();
  }
  python::PyRef current = python::PyRef::steal(PyImport_ImportModule(std::string(module).c_str()));
  std::size_t start = 0;
  while (current && start <= qualname.size()) {
    std::size_t dot = qualname.find('.', start);
    std::string part(qualname.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    current = python::PyRef::steal(PyObject_GetAttrString(current.get(), part.c_str()));
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  if (!current) {
    return nullptr;
  }
  if (!PyType_Check(current.get()) || !info(reinterpret_cast<PyTypeObject*>(current.get())).plain) {
    PyErr_Format(PyExc_TypeError, "%s.%s is no longer a plain class (it defines pickling methods or __slots__ now)",
                 std::string(module).c_str(), std::string(qualname).c_str());
    return nullptr;
  }
  PyObject* type = by_name_.emplace(name, current).first->second.get();
  remember_last(module, qualname, type);
  return type;
}

void PlainObjectCodec::remember_last(std::string_view module, std::string_view qualname, PyObject* type) {
  last_module_.assign(module);
  last_qualname_.assign(qualname);
  last_class_ = type;
}

PyObject* PlainObjectCodec::read(std::string_view bytes) {
  core::BigEndianReader reader(bytes.substr(1));
  std::string_view module = reader.str_view();
  std::string_view qualname = reader.str_view();
  if (!made(bytes) || !reader.ok()) {
    PyErr_SetString(PyExc_ValueError, "a plain object's bytes are truncated");
    return nullptr;
  }
  PyObject* type = resolve(module, qualname);
  if (type == nullptr) {
    return nullptr;
  }
  std::string_view rest = bytes.substr(bytes.size() - reader.remaining());
  python::PyRef attributes;
  if (MarshalCodec::made(rest)) {
    attributes = python::PyRef::steal(MarshalCodec::read(rest));
  } else {
    python::PyRef pickled =
        python::PyRef::steal(PyBytes_FromStringAndSize(rest.data(), static_cast<Py_ssize_t>(rest.size())));
    attributes = python::PyRef::steal(pickled ? call1(loads_.get(), pickled.get()) : nullptr);
  }
  if (!attributes) {
    return nullptr;
  }
  if (!PyDict_Check(attributes.get())) {
    PyErr_SetString(PyExc_TypeError, "a plain object's attributes are not a dict");
    return nullptr;
  }
  return fresh(reinterpret_cast<PyTypeObject*>(type), attributes.get());
}

}  // namespace roo::state
