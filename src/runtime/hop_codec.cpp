#include "hop_codec.hpp"

#include "roo/core/big_endian.hpp"

#include <algorithm>
#include <cstring>

namespace roo::runtime {
namespace {

enum DataKind : std::uint8_t { raw_frame = 0, object = 1, skipped = 2 };
enum KeyKind : std::uint8_t { str_key = 0, bytes_key = 1, pickled_key = 2 };

void put_u16(std::vector<char>& out, std::uint16_t value) {
  out.resize(out.size() + 2);
  core::store_u16_be(out.data() + out.size() - 2, value);
}

void put_u32(std::vector<char>& out, std::uint32_t value) {
  out.resize(out.size() + 4);
  core::store_u32_be(out.data() + out.size() - 4, value);
}

void put_bytes(std::vector<char>& out, const char* data, std::size_t size) {
  put_u32(out, static_cast<std::uint32_t>(size));
  out.insert(out.end(), data, data + size);
}

/// Reads big-endian fields from a batch, refusing to run past its end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  bool u8(std::uint8_t& value) { return fixed(value, 1); }
  bool u16(std::uint16_t& value) { return fixed(value, 2); }
  bool u32(std::uint32_t& value) { return fixed(value, 4); }
  bool span(std::string_view& value) {
    std::uint32_t size = 0;
    if (!u32(size) || bytes_.size() - at_ < size) {
      return false;
    }
    value = bytes_.substr(at_, size);
    at_ += size;
    return true;
  }
  [[nodiscard]] bool at_end() const { return at_ == bytes_.size(); }

 private:
  template <class T>
  bool fixed(T& value, std::size_t width) {
    if (bytes_.size() - at_ < width) {
      return false;
    }
    if constexpr (sizeof(T) == 1) {
      value = static_cast<T>(bytes_[at_]);
    } else if constexpr (sizeof(T) == 2) {
      value = core::load_u16_be(bytes_.data() + at_);
    } else {
      value = core::load_u32_be(bytes_.data() + at_);
    }
    at_ += width;
    return true;
  }

  std::string_view bytes_;
  std::size_t at_ = 0;
};

PyObject* call1(PyObject* fn, PyObject* arg) {
  PyObject* args[2] = {nullptr, arg};
  return PyObject_Vectorcall(fn, args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
}

bool bytes_view(PyObject* object, std::string_view& view) {
  if (!PyBytes_Check(object)) {
    return false;
  }
  view = {PyBytes_AS_STRING(object), static_cast<std::size_t>(PyBytes_GET_SIZE(object))};
  return true;
}

}  // namespace

OutboundHops::OutboundHops() : objects_(python::PyRef::steal(PyList_New(0))) {}

bool OutboundHops::append_key(PyObject* key) {
  if (PyUnicode_Check(key)) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(key, &size);
    if (data == nullptr) {
      return false;
    }
    entries_.push_back(static_cast<char>(str_key));
    put_bytes(entries_, data, static_cast<std::size_t>(size));
    return true;
  }
  if (PyBytes_Check(key)) {
    entries_.push_back(static_cast<char>(bytes_key));
    put_bytes(entries_, PyBytes_AS_STRING(key), static_cast<std::size_t>(PyBytes_GET_SIZE(key)));
    return true;
  }
  // Rare (ints, tuples): pickled on its own, so the key arrives as the same type.
  static PyObject* dumps = PyObject_GetAttrString(PyImport_ImportModule("pickle"), "dumps");
  python::PyRef pickled = python::PyRef::steal(call1(dumps, key));
  std::string_view view;
  if (!pickled || !bytes_view(pickled.get(), view)) {
    return false;
  }
  entries_.push_back(static_cast<char>(pickled_key));
  put_bytes(entries_, view.data(), view.size());
  return true;
}

void OutboundHops::add_raw(std::uint16_t flow, std::uint16_t position, PyObject* key, std::string_view payload) {
  std::size_t rollback = entries_.size();
  put_u16(entries_, flow);
  put_u16(entries_, position);
  entries_.push_back(static_cast<char>(raw_frame));
  if (!append_key(key)) {
    entries_.resize(rollback);
    PyErr_Clear();
    return;
  }
  put_bytes(entries_, payload.data(), payload.size());
  ++count_;
}

void OutboundHops::add_object(std::uint16_t flow, std::uint16_t position, PyObject* key, PyObject* data) {
  std::size_t rollback = entries_.size();
  put_u16(entries_, flow);
  put_u16(entries_, position);
  std::size_t kind_at = entries_.size();
  entries_.push_back(static_cast<char>(object));
  if (!append_key(key)) {
    entries_.resize(rollback);
    PyErr_Clear();
    return;
  }
  PyList_Append(objects_.get(), data);
  object_entry_offsets_.push_back(kind_at);
  ++count_;
}

std::vector<char> OutboundHops::finish(const ObjectCodec& codec, python::StepErrors& errors) {
  std::vector<char> blob;
  Py_ssize_t objects = PyList_GET_SIZE(objects_.get());
  auto skip = [&](Py_ssize_t i) {
    errors.report_exception();
    entries_[object_entry_offsets_[static_cast<std::size_t>(i)]] = static_cast<char>(skipped);
  };
  if (objects > 0 && !codec.per_object) {
    python::PyRef pickled = python::PyRef::steal(call1(codec.dumps.get(), objects_.get()));
    std::string_view view;
    if (pickled && bytes_view(pickled.get(), view)) {
      blob.assign(view.begin(), view.end());
    } else {
      // Something in the list cannot be pickled: find it, leave it out, send the rest.
      PyErr_Clear();
      python::PyRef kept = python::PyRef::steal(PyList_New(0));
      for (Py_ssize_t i = 0; i < objects; ++i) {
        PyObject* item = PyList_GET_ITEM(objects_.get(), i);
        python::PyRef alone = python::PyRef::steal(call1(codec.dumps.get(), item));
        if (alone) {
          PyList_Append(kept.get(), item);
        } else {
          skip(i);
        }
      }
      pickled = python::PyRef::steal(call1(codec.dumps.get(), kept.get()));
      if (pickled && bytes_view(pickled.get(), view)) {
        blob.assign(view.begin(), view.end());
      }
    }
  } else if (objects > 0) {
    for (Py_ssize_t i = 0; i < objects; ++i) {
      python::PyRef bytes = python::PyRef::steal(call1(codec.dumps.get(), PyList_GET_ITEM(objects_.get(), i)));
      std::string_view view;
      if (bytes && bytes_view(bytes.get(), view)) {
        put_bytes(blob, view.data(), view.size());
      } else {
        if (bytes) {
          PyErr_SetString(PyExc_TypeError, "serialize() must return bytes");
        }
        skip(i);
      }
    }
  }
  std::vector<char> out;
  out.reserve(8 + entries_.size() + blob.size());
  put_u32(out, count_);
  out.insert(out.end(), entries_.begin(), entries_.end());
  put_bytes(out, blob.data(), blob.size());
  entries_.clear();
  count_ = 0;
  object_entry_offsets_.clear();
  objects_ = python::PyRef::steal(PyList_New(0));
  return out;
}

bool read_hops(std::string_view bytes, const ObjectCodec& codec, const std::function<void(InboundHop&)>& each,
               std::string& error) {
  Reader reader(bytes);
  std::uint32_t count = 0;
  if (!reader.u32(count)) {
    error = "truncated batch header";
    return false;
  }
  struct Pending {
    InboundHop hop;
    bool needs_object = false;
    bool skip = false;
  };
  std::vector<Pending> pending;
  pending.reserve(std::min<std::size_t>(count, bytes.size() / 10));  // an entry takes at least 10 bytes
  for (std::uint32_t i = 0; i < count; ++i) {
    Pending entry;
    std::uint8_t data_kind = 0;
    std::uint8_t key_kind = 0;
    std::string_view key;
    if (!reader.u16(entry.hop.flow) || !reader.u16(entry.hop.position) || !reader.u8(data_kind) ||
        !reader.u8(key_kind) || !reader.span(key) || (data_kind == raw_frame && !reader.span(entry.hop.raw))) {
      error = "truncated entry " + std::to_string(i);
      return false;
    }
    if (key_kind == str_key) {
      entry.hop.key =
          python::PyRef::steal(PyUnicode_DecodeUTF8(key.data(), static_cast<Py_ssize_t>(key.size()), "surrogatepass"));
    } else if (key_kind == bytes_key) {
      entry.hop.key = python::PyRef::steal(PyBytes_FromStringAndSize(key.data(), static_cast<Py_ssize_t>(key.size())));
    } else {
      python::PyRef raw_key =
          python::PyRef::steal(PyBytes_FromStringAndSize(key.data(), static_cast<Py_ssize_t>(key.size())));
      static PyObject* loads = PyObject_GetAttrString(PyImport_ImportModule("pickle"), "loads");
      entry.hop.key = python::PyRef::steal(call1(loads, raw_key.get()));
    }
    if (!entry.hop.key) {
      PyErr_Clear();
      error = "undecodable key in entry " + std::to_string(i);
      return false;
    }
    entry.needs_object = data_kind == object;
    entry.skip = data_kind == skipped;
    pending.push_back(std::move(entry));
  }
  std::string_view blob;
  if (!reader.span(blob) || !reader.at_end()) {
    error = "malformed object section";
    return false;
  }
  python::PyRef objects;
  if (!blob.empty() && !codec.per_object) {
    python::PyRef blob_bytes =
        python::PyRef::steal(PyBytes_FromStringAndSize(blob.data(), static_cast<Py_ssize_t>(blob.size())));
    objects = python::PyRef::steal(call1(codec.loads.get(), blob_bytes.get()));
    if (!objects || !PyList_Check(objects.get())) {
      PyErr_Clear();
      error = "the objects could not be unpickled";
      return false;
    }
  }
  Reader blob_reader(blob);
  Py_ssize_t next_object = 0;
  for (auto& entry : pending) {
    if (entry.skip) {
      continue;
    }
    if (entry.needs_object) {
      if (!codec.per_object) {
        if (next_object >= PyList_GET_SIZE(objects.get())) {
          error = "fewer objects than entries";
          return false;
        }
        entry.hop.object = python::PyRef::borrow(PyList_GET_ITEM(objects.get(), next_object++));
      } else {
        std::string_view one;
        if (!blob_reader.span(one)) {
          error = "fewer objects than entries";
          return false;
        }
        python::PyRef one_bytes =
            python::PyRef::steal(PyBytes_FromStringAndSize(one.data(), static_cast<Py_ssize_t>(one.size())));
        entry.hop.object = python::PyRef::steal(call1(codec.loads.get(), one_bytes.get()));
        if (!entry.hop.object) {
          PyErr_Clear();
          error = "deserialize() raised";
          return false;
        }
      }
    }
    each(entry.hop);
  }
  return true;
}

}  // namespace roo::runtime
