#include "hop_codec.hpp"

#include "hop_layout.hpp"

#include "roo/core/big_endian.hpp"

#include <cstring>

namespace roo::runtime {
namespace {

void put_u16(std::vector<char>& out, std::uint16_t value) {
  out.resize(out.size() + 2);
  core::store_u16_be(out.data() + out.size() - 2, value);
}

void put_u32(std::vector<char>& out, std::uint32_t value) {
  out.resize(out.size() + 4);
  core::store_u32_be(out.data() + out.size() - 4, value);
}

void put_u64(std::vector<char>& out, std::uint64_t value) {
  out.resize(out.size() + 8);
  core::store_u64_be(out.data() + out.size() - 8, value);
}

void put_bytes(std::vector<char>& out, const char* data, std::size_t size) {
  put_u32(out, static_cast<std::uint32_t>(size));
  out.insert(out.end(), data, data + size);
}

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
    entries_.push_back(static_cast<char>(HopKeyKind::str));
    put_bytes(entries_, data, static_cast<std::size_t>(size));
    return true;
  }
  if (PyBytes_Check(key)) {
    entries_.push_back(static_cast<char>(HopKeyKind::bytes));
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
  entries_.push_back(static_cast<char>(HopKeyKind::pickled));
  put_bytes(entries_, view.data(), view.size());
  return true;
}

bool OutboundHops::add_raw(std::uint16_t flow, std::uint16_t position, PyObject* key, std::int64_t time,
                           std::string_view payload, std::int64_t ingest) {
  std::size_t rollback = entries_.size();
  put_u16(entries_, flow);
  put_u16(entries_, position);
  entries_.push_back(static_cast<char>(static_cast<std::uint8_t>(HopDataKind::raw_frame) |
                                       (ingest != 0 ? hop_timed_flag : 0)));
  if (!append_key(key)) {
    entries_.resize(rollback);
    return false;
  }
  put_u64(entries_, static_cast<std::uint64_t>(time));
  if (ingest != 0) [[unlikely]] {
    put_u64(entries_, static_cast<std::uint64_t>(ingest));
  }
  put_bytes(entries_, payload.data(), payload.size());
  ++count_;
  return true;
}

bool OutboundHops::add_object(std::uint16_t flow, std::uint16_t position, PyObject* key, std::int64_t time,
                              PyObject* data, std::int64_t ingest) {
  std::size_t rollback = entries_.size();
  put_u16(entries_, flow);
  put_u16(entries_, position);
  std::size_t kind_at = entries_.size();
  entries_.push_back(static_cast<char>(static_cast<std::uint8_t>(HopDataKind::object) |
                                       (ingest != 0 ? hop_timed_flag : 0)));
  if (!append_key(key) || PyList_Append(objects_.get(), data) != 0) {
    entries_.resize(rollback);
    return false;
  }
  put_u64(entries_, static_cast<std::uint64_t>(time));
  if (ingest != 0) [[unlikely]] {
    put_u64(entries_, static_cast<std::uint64_t>(ingest));
  }
  object_entry_offsets_.push_back(kind_at);
  ++count_;
  return true;
}

std::vector<char> OutboundHops::finish(const ObjectCodec& codec, const Skipped& on_skipped, std::uint32_t& events) {
  std::vector<char> blob;
  Py_ssize_t objects = PyList_GET_SIZE(objects_.get());
  std::uint32_t left_out = 0;
  auto skip = [&](Py_ssize_t i) {
    std::size_t kind_at = object_entry_offsets_[static_cast<std::size_t>(i)];
    auto field = [&](std::size_t at) {
      return static_cast<std::uint16_t>((static_cast<unsigned char>(entries_[at]) << 8) |
                                        static_cast<unsigned char>(entries_[at + 1]));
    };
    on_skipped(field(kind_at - 4), field(kind_at - 2));
    // The timed flag stays: it says whether an ingest time follows.
    entries_[kind_at] = static_cast<char>((static_cast<std::uint8_t>(entries_[kind_at]) & hop_timed_flag) |
                                          static_cast<std::uint8_t>(HopDataKind::skipped));
    ++left_out;
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
  events = count_ - left_out;
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
               std::string& error, std::uint32_t& lost) {
  // The batch's own event count (its first 4 bytes), for reporting what a bad batch loses.
  std::uint32_t count = 0;
  for (std::size_t i = 0; i < 4 && i < bytes.size(); ++i) {
    count = (count << 8) | static_cast<unsigned char>(bytes[i]);
  }
  std::uint32_t done = 0;  // delivered, or left out by the sender
  lost = 0;
  auto fail = [&](std::string why) {
    error = std::move(why);
    lost = count - done;
    return false;
  };
  // Every byte is checked before any Python object is made.
  std::vector<HopEntryView> layout;
  std::string_view blob;
  if (std::string why; !parse_hop_layout(bytes, layout, blob, why)) {
    return fail(std::move(why));
  }
  struct Pending {
    InboundHop hop;
    bool needs_object = false;
    bool skip = false;
  };
  std::vector<Pending> pending;
  pending.reserve(layout.size());
  for (std::size_t i = 0; i < layout.size(); ++i) {
    const HopEntryView& view = layout[i];
    Pending entry;
    entry.hop.flow = view.flow;
    entry.hop.position = view.position;
    entry.hop.raw = view.raw;
    entry.hop.time = view.time;
    entry.hop.ingest = view.ingest;
    const std::string_view key = view.key;
    if (view.key_kind == HopKeyKind::str) {
      entry.hop.key =
          python::PyRef::steal(PyUnicode_DecodeUTF8(key.data(), static_cast<Py_ssize_t>(key.size()), "surrogatepass"));
    } else if (view.key_kind == HopKeyKind::bytes) {
      entry.hop.key = python::PyRef::steal(PyBytes_FromStringAndSize(key.data(), static_cast<Py_ssize_t>(key.size())));
    } else {
      python::PyRef raw_key =
          python::PyRef::steal(PyBytes_FromStringAndSize(key.data(), static_cast<Py_ssize_t>(key.size())));
      static PyObject* loads = PyObject_GetAttrString(PyImport_ImportModule("pickle"), "loads");
      entry.hop.key = python::PyRef::steal(call1(loads, raw_key.get()));
    }
    if (!entry.hop.key) {
      PyErr_Clear();
      return fail("undecodable key in entry " + std::to_string(i));
    }
    entry.needs_object = view.data_kind == HopDataKind::object;
    entry.skip = view.data_kind == HopDataKind::skipped;
    pending.push_back(std::move(entry));
  }
  python::PyRef objects;
  if (!blob.empty() && !codec.per_object) {
    python::PyRef blob_bytes =
        python::PyRef::steal(PyBytes_FromStringAndSize(blob.data(), static_cast<Py_ssize_t>(blob.size())));
    objects = python::PyRef::steal(call1(codec.loads.get(), blob_bytes.get()));
    if (!objects || !PyList_Check(objects.get())) {
      PyErr_Clear();
      return fail("the objects could not be unpickled");
    }
  }
  Py_ssize_t next_object = 0;
  for (auto& entry : pending) {
    if (entry.skip) {
      ++done;
      continue;
    }
    if (entry.needs_object) {
      if (!codec.per_object) {
        // No object section at all (an empty blob) is as short as a list with too few objects.
        if (!objects || next_object >= PyList_GET_SIZE(objects.get())) {
          return fail("fewer objects than entries");
        }
        entry.hop.object = python::PyRef::borrow(PyList_GET_ITEM(objects.get(), next_object++));
      } else {
        std::string_view one;
        if (!take_framed_object(blob, one)) {
          return fail("fewer objects than entries");
        }
        python::PyRef one_bytes =
            python::PyRef::steal(PyBytes_FromStringAndSize(one.data(), static_cast<Py_ssize_t>(one.size())));
        entry.hop.object = python::PyRef::steal(call1(codec.loads.get(), one_bytes.get()));
        if (!entry.hop.object) {
          PyErr_Clear();
          return fail("deserialize() raised");
        }
      }
    }
    each(entry.hop);
    ++done;
  }
  return true;
}

}  // namespace roo::runtime
