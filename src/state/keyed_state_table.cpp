#include "roo/state/keyed_state_table.hpp"

#include "roo/python/exception_text.hpp"
#include "roo/state/key_group.hpp"
#include "roo/state/marshal_codec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace roo::state {
namespace {

constexpr std::size_t max_key_text = 60;

PyObject* call1(PyObject* fn, PyObject* arg) {
  PyObject* args[2] = {nullptr, arg};
  return PyObject_Vectorcall(fn, args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
}

// repr(key), cut short: how a message names a key. Keeps a pending Python error as it is.
std::string key_text(PyObject* key) {
  PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  std::string text = "<unprintable key>";
  if (python::PyRef repr = python::PyRef::steal(PyObject_Repr(key))) {
    if (const char* utf8 = PyUnicode_AsUTF8(repr.get())) {
      text = utf8;
      if (text.size() > max_key_text) {
        text = text.substr(0, max_key_text) + "...";
      }
    }
  }
  PyErr_Clear();
  PyErr_Restore(type, value, traceback);
  return text;
}

std::string_view bytes_of(PyObject* object) {
  return {PyBytes_AS_STRING(object), static_cast<std::size_t>(PyBytes_GET_SIZE(object))};
}

void append_sized(std::string& out, std::string_view bytes) {
  auto size = static_cast<std::uint32_t>(bytes.size());
  out.append(reinterpret_cast<const char*>(&size), sizeof size);
  out.append(bytes);
}

std::string_view take_sized(std::string_view& in) {
  std::uint32_t size = 0;
  std::memcpy(&size, in.data(), sizeof size);
  auto bytes = in.substr(sizeof size, size);
  in.remove_prefix(sizeof size + size);
  return bytes;
}

}  // namespace

KeyedStateTable::KeyedStateTable(std::string name, std::string label, python::PyRef factory)
    : name_(std::move(name)),
      label_(std::move(label)),
      factory_(std::move(factory)),
      states_(python::PyRef::steal(PyDict_New())) {}

void KeyedStateTable::track_changes() { tracking_ = true; }

std::optional<std::string> KeyedStateTable::key_name(PyObject* key) {
  PyObject* text = PyUnicode_Check(key) ? key : nullptr;
  python::PyRef converted;
  if (text == nullptr) {
    converted = python::PyRef::steal(
        PyBytes_Check(key) ? PyUnicode_DecodeUTF8(PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key), "replace")
                           : PyObject_Str(key));
    text = converted.get();
  }
  Py_ssize_t size = 0;
  const char* utf8 = text != nullptr ? PyUnicode_AsUTF8AndSize(text, &size) : nullptr;
  if (utf8 == nullptr) {
    PyErr_Clear();
    return std::nullopt;
  }
  return std::string(utf8, static_cast<std::size_t>(size));  // the bytes key_group_of hashes, for a str
}

void KeyedStateTable::remember_key(PyObject* key) {
  if (auto name = key_name(key)) {
    std::lock_guard lock(keys_mutex_);
    key_names_.push_back(std::move(*name));
  }
}

std::vector<std::string> KeyedStateTable::key_names() const {
  std::lock_guard lock(keys_mutex_);
  return key_names_;
}

StateSerializationError KeyedStateTable::failure(PyObject* key, const char* what, const char* verb) const {
  std::string cause = python::take_exception_text();
  return StateSerializationError(
      fmt::format("the {} of key {} in {} could not be {}: {}", what, key_text(key), label_, verb, cause));
}

void KeyedStateTable::serialize(PyObject* key, PyObject* state, const StateCodec& codec, Py_ssize_t holders,
                                Serialized& out) {
  out.key_object = python::PyRef();
  out.state = python::PyRef();
  out.replacement = python::PyRef();
  key_bytes_.clear();
  if (MarshalCodec::fits(key) && MarshalCodec::write_key(key, key_bytes_)) {
    out.key = key_bytes_;
  } else {
    out.key_object = python::PyRef::steal(call1(codec.dump_key.get(), key));
    if (!out.key_object || !PyBytes_Check(out.key_object.get())) {
      if (out.key_object) {
        PyErr_SetString(PyExc_TypeError, "pickle.dumps did not return bytes");
      }
      throw failure(key, "key", "pickled");
    }
    out.key = bytes_of(out.key_object.get());
  }
  const bool app_codec = !codec.roo_writes_states();
  plain_bytes_.clear();
  if (!app_codec && MarshalCodec::fits(state) && MarshalCodec::write(state, plain_bytes_)) {
    out.value = plain_bytes_;
    return;
  }
  if (codec.plain) {
    PlainObjectCodec::Written written = codec.plain->write(state, holders, plain_bytes_, out.replacement);
    if (written == PlainObjectCodec::Written::failed) {
      throw failure(key, "state", "pickled");
    }
    if (written == PlainObjectCodec::Written::written) {
      out.value = plain_bytes_;
      return;
    }
  }
  out.state = python::PyRef::steal(call1(codec.dump_state.get(), state));
  if (!out.state) {
    throw failure(key, "state", app_codec ? "serialized (the application's serialize raised)" : "pickled");
  }
  if (!PyBytes_Check(out.state.get())) {
    PyErr_Format(PyExc_TypeError, "serialize returned %s; expected bytes", Py_TYPE(out.state.get())->tp_name);
    throw failure(key, "state", "serialized");
  }
  out.value = bytes_of(out.state.get());
}

std::size_t KeyedStateTable::snapshot(std::uint32_t index, checkpoint::Snapshot& snapshot, bool full,
                                      const StateCodec& codec, std::uint32_t key_groups) {
  if (has_pending() && key_groups != pending_key_groups_) [[unlikely]] {
    restore_all_pending();  // kept under another count of key groups: written below as restored keys
  }
  bool everything = full || !tracking_ || shared_states_;
  std::size_t added = 0;
  if (has_pending() && (everything || !pending_checkpointed_)) {
    // Kept keys are new to this worker's checkpoints. Their records are already a snapshot's (the giver wrote them
    // with the same codecs): copied as they are, without making their objects.
    for (std::size_t group = 0; group < pending_.size(); ++group) {
      std::string_view records = pending_[group].records;
      while (!records.empty()) {
        auto key = take_sized(records);
        auto value = take_sized(records);
        snapshot.add_state(index, static_cast<std::uint32_t>(group), key, value);
        ++added;
      }
    }
  }
  // The keys to write: every key, or those marked changed. Collected first (borrowed: the dict and the marks hold
  // them until forget_changes()), because writing a plain object may replace it in the dict.
  std::vector<PyObject*> keys;
  if (everything) {
    keys.reserve(static_cast<std::size_t>(PyDict_GET_SIZE(states_.get())));
    Py_ssize_t position = 0;
    PyObject* key = nullptr;
    PyObject* state = nullptr;
    const bool skip_left = has_left_keys() && left_key_groups_ == key_groups;
    if (has_left_keys() && !skip_left) [[unlikely]] {
      remove_left_keys(left_keys_.size());
    }
    while (PyDict_Next(states_.get(), &position, &key, &state)) {
      // Keys handed over and not yet removed (remove_left_keys) are another worker's: skipped, not removed here,
      // so that the checkpoint right after a round does not hold their removal.
      if (skip_left) {
        std::int64_t group = key_group_of(key, key_groups);
        if (group < 0) {
          PyErr_Clear();  // no group: it did not leave (hand_over() skips such keys)
        } else if (static_cast<std::size_t>(group) < left_groups_.size() &&
                   left_groups_[static_cast<std::size_t>(group)]) {
          continue;
        }
      }
      keys.push_back(key);
    }
  } else {  // no key that left is marked (hand_over() forgot their marks)
    keys.reserve(changed_.size());
    changed_.for_each_key([&](PyObject* marked) { keys.push_back(marked); });
  }
  Serialized entry;
  for (PyObject* key : keys) {
    PyObject* state = PyDict_GetItemWithError(states_.get(), key);  // borrowed
    if (state == nullptr) {
      if (PyErr_Occurred()) {
        throw failure(key, "state", "found");
      }
      continue;  // its state was never created (the factory raised)
    }
    std::int64_t group = key_group_of(key, key_groups);
    if (group < 0) {
      throw failure(key, "key group", "computed (str() of the key raised)");
    }
    serialize(key, state, codec, 1, entry);
    snapshot.add_state(index, static_cast<std::uint32_t>(group), entry.key, entry.value);
    ++added;
    // A value replaced under an existing key: the dict's keys, and so both walks, stay as they are.
    if (entry.replacement && PyDict_SetItem(states_.get(), key, entry.replacement.get()) != 0) {
      PyErr_Clear();
    }
  }
  return added;
}

KeyedStateTable::HandedOver KeyedStateTable::hand_over(const std::vector<bool>& leaving, std::uint32_t key_groups,
                                                       const StateCodec& codec, const Take& take, bool remove_later) {
  remove_left_keys(left_keys_.size());
  restore_all_pending();
  // The keys that leave, held (the dict lets go of them below), with their groups and states: collected first,
  // since the dict cannot change while it is walked (and a second lookup of each key in a large dict costs a cache
  // miss or two, a sixth of the hand-over).
  std::vector<std::pair<python::PyRef, std::uint32_t>> keys;
  std::vector<python::PyRef> states;
  Py_ssize_t position = 0;
  PyObject* key = nullptr;
  PyObject* state = nullptr;
  bool names_follow_groups = true;  // every key's name hashes to its key group (not so for a bytes key, maybe)
  while (PyDict_Next(states_.get(), &position, &key, &state)) {
    names_follow_groups = names_follow_groups && !PyBytes_Check(key);
    std::int64_t group = key_group_of(key, key_groups);
    if (group < 0) {
      PyErr_Clear();  // no group, no owner: no event could reach its state either (the router counts those)
      continue;
    }
    if (static_cast<std::size_t>(group) < leaving.size() && leaving[static_cast<std::size_t>(group)]) {
      keys.emplace_back(python::PyRef::borrow(key), static_cast<std::uint32_t>(group));
      states.push_back(python::PyRef::borrow(state));
    }
  }
  // Every key leaves (a worker that leaves the cluster): the dict is cleared in one pass at the end, rather than
  // deleting key by key, a cache miss or two each in a large dict.
  const bool everything = keys.size() == static_cast<std::size_t>(PyDict_GET_SIZE(states_.get()));
  remove_later = remove_later && !everything;
  HandedOver result;
  Serialized entry;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& [leaver, group] = keys[i];
    try {
      // No holders counted: the object leaves with the dict, a fresh copy of it is of no use.
      serialize(leaver.get(), states[i].get(), codec, 0, entry);
      take(group, entry.key, entry.value);
      ++result.keys;
    } catch (const StateSerializationError& error) {
      if (result.failed++ == 0) {
        result.first_failure = error.what();
      }
    }
    if (!everything && !remove_later && PyDict_DelItem(states_.get(), leaver.get()) != 0) {
      PyErr_Clear();
    }
    states[i] = python::PyRef();  // freed here rather than all at the end, while its memory is warm
  }
  if (everything) {
    drop(keys);
  }
  forget_keys(keys, leaving, names_follow_groups, key_groups);
  if (remove_later) {
    left_groups_ = leaving;
    left_key_groups_ = key_groups;
    left_keys_.reserve(keys.size());
    for (auto& [leaver, group] : keys) {
      left_keys_.push_back(std::move(leaver));
    }
  }
  return result;
}

bool KeyedStateTable::remove_left_keys(std::size_t at_most) {
  std::size_t end = left_removed_ + std::min(at_most, left_keys_.size() - left_removed_);
  for (; left_removed_ < end; ++left_removed_) {
    auto& key = left_keys_[left_removed_];
    if (PyDict_DelItem(states_.get(), key.get()) != 0) {
      PyErr_Clear();  // not there: a serialization's own code changed the dict
    }
    key = python::PyRef();
  }
  if (left_removed_ < left_keys_.size()) {
    return false;
  }
  left_keys_ = {};
  left_removed_ = 0;
  left_groups_ = {};
  return true;
}

void KeyedStateTable::drop(const std::vector<std::pair<python::PyRef, std::uint32_t>>& keys) {
  if (static_cast<std::size_t>(PyDict_GET_SIZE(states_.get())) == keys.size()) {
    PyDict_Clear(states_.get());
    return;
  }
  for (const auto& [key, group] : keys) {  // a serialization's own code changed the dict: one by one
    if (PyDict_DelItem(states_.get(), key.get()) != 0) {
      PyErr_Clear();
    }
  }
}

void KeyedStateTable::forget_keys(const std::vector<std::pair<python::PyRef, std::uint32_t>>& keys,
                                  const std::vector<bool>& leaving_groups, bool names_follow_groups,
                                  std::uint32_t key_groups) {
  if (keys.empty()) {
    return;
  }
  const std::vector<bool>* leaving = names_follow_groups ? &leaving_groups : nullptr;
  if (leaving != nullptr) {
    // Whole key groups left, and each name hashes to its key's group: a name goes when its group left (no lookup
    // per name, which costs more than the hand-over itself with a million keys).
    std::lock_guard lock(keys_mutex_);
    std::erase_if(key_names_, [&](const std::string& name) {
      std::size_t group = stable_hash(name) % key_groups;
      return group < leaving->size() && (*leaving)[group];
    });
  } else {
    std::unordered_map<std::string, std::size_t> names;
    names.reserve(keys.size());
    for (const auto& [key, group] : keys) {
      if (auto name = key_name(key.get())) {
        ++names[*name];
      }
    }
    forget_names(names);
  }
  if (changed_.size() == 0) {
    return;
  }
  // A mark goes when its key's group left: every key of a leaving group left. The marks are the keys changed since the
  // last snapshot, far fewer than the keys that leave (a set of those cost a tenth of a large hand-over).
  changed_.forget_if([&](PyObject* marked) {
    std::int64_t group = key_group_of(marked, key_groups);
    if (group < 0) {
      PyErr_Clear();
      return false;  // no group: it did not leave (hand_over skips such keys)
    }
    return static_cast<std::size_t>(group) < leaving_groups.size() && leaving_groups[static_cast<std::size_t>(group)];
  });
}

void KeyedStateTable::forget_names(std::unordered_map<std::string, std::size_t>& names) {
  std::lock_guard lock(keys_mutex_);
  std::erase_if(key_names_, [&](const std::string& name) {
    auto found = names.find(name);
    if (found == names.end() || found->second == 0) {
      return false;
    }
    --found->second;
    return true;
  });
}

void KeyedStateTable::forget_changes() {
  changed_.clear();
  pending_checkpointed_ = has_pending();
}

void KeyedStateTable::restore(std::string_view key_bytes, std::string_view value_bytes, const StateCodec& codec) {
  if (has_left_keys()) [[unlikely]] {
    remove_left_keys(left_keys_.size());  // a key given back must not meet its old state's removal
  }
  restore_all_pending();  // a kept record restored later must not overwrite this newer one
  restore_one(key_bytes, value_bytes, codec);
}

python::PyRef KeyedStateTable::read_key(std::string_view key_bytes, const StateCodec& codec) {
  if (MarshalCodec::made(key_bytes)) {
    return python::PyRef::steal(MarshalCodec::read(key_bytes));
  }
  python::PyRef serialized_key =
      python::PyRef::steal(PyBytes_FromStringAndSize(key_bytes.data(), static_cast<Py_ssize_t>(key_bytes.size())));
  return python::PyRef::steal(serialized_key ? call1(codec.load_key.get(), serialized_key.get()) : nullptr);
}

std::optional<std::string> KeyedStateTable::kept_key_name(std::string_view key_bytes, const StateCodec& codec) {
  if (auto utf8 = MarshalCodec::str_key_utf8(key_bytes)) {
    return std::string(*utf8);  // what key_name() gives for a str, without making it
  }
  python::PyRef key = read_key(key_bytes, codec);
  if (!key) {
    PyErr_Clear();
    return std::nullopt;
  }
  return key_name(key.get());
}

void KeyedStateTable::restore_one(std::string_view key_bytes, std::string_view value_bytes, const StateCodec& codec,
                                  bool named) {
  python::PyRef key = read_key(key_bytes, codec);
  if (!key) {
    throw StateSerializationError(
        fmt::format("a key of {} could not be read back: {}", label_, python::take_exception_text()));
  }
  python::PyRef value;
  if (codec.roo_writes_states() && MarshalCodec::made(value_bytes)) {
    value = python::PyRef::steal(MarshalCodec::read(value_bytes));
  } else if (codec.plain && PlainObjectCodec::made(value_bytes)) {
    value = python::PyRef::steal(codec.plain->read(value_bytes));
  } else {
    python::PyRef serialized_value = python::PyRef::steal(
        PyBytes_FromStringAndSize(value_bytes.data(), static_cast<Py_ssize_t>(value_bytes.size())));
    value = python::PyRef::steal(serialized_value ? call1(codec.load_state.get(), serialized_value.get()) : nullptr);
  }
  if (!value) {
    std::string cause = python::take_exception_text();
    throw StateSerializationError(
        fmt::format("the state of key {} in {} could not be read back: {}", key_text(key.get()), label_, cause));
  }
  Py_ssize_t before = PyDict_GET_SIZE(states_.get());
  if (PyDict_SetItem(states_.get(), key.get(), value.get()) != 0) {
    std::string cause = python::take_exception_text();
    throw StateSerializationError(
        fmt::format("the state of key {} in {} could not be restored: {}", key_text(key.get()), label_, cause));
  }
  if (!named && PyDict_GET_SIZE(states_.get()) > before) {
    remember_key(key.get());
  }
}

void KeyedStateTable::keep_to_restore(std::uint32_t group, std::uint32_t key_groups, std::string_view key,
                                      std::string_view value, const StateCodec& codec, const std::string& peer) {
  if (key_groups == 0 || group >= key_groups || (has_pending() && key_groups != pending_key_groups_)) {
    try {
      restore(key, value, codec);  // no group to keep it under: now
    } catch (const StateSerializationError& error) {
      note_restore_failure(peer, error.what());
    }
    return;
  }
  if (has_left_keys()) [[unlikely]] {
    remove_left_keys(left_keys_.size());  // a group given back: its old keys must not shadow the kept ones
  }
  if (!has_pending()) {
    pending_.assign(key_groups, {});
    pending_key_groups_ = key_groups;
    pending_codec_ = codec;
    pending_next_ = 0;
  }
  auto& pending = pending_[group];
  if (pending.keys == 0) {
    pending.peer = peer;
  }
  append_sized(pending.records, key);
  append_sized(pending.records, value);
  ++pending.keys;
  ++pending_keys_;
  pending_checkpointed_ = false;
  // Named now, as a restored key would be: the state-entity queries list it from here on.
  if (auto name = kept_key_name(key, codec)) {
    std::lock_guard lock(keys_mutex_);
    key_names_.push_back(std::move(*name));
  }
}

void KeyedStateTable::note_restore_failure(const std::string& peer, std::string line) {
  auto& [count, first] = restore_failures_[peer];
  if (count++ == 0) {
    first = std::move(line);
  }
}

bool KeyedStateTable::restore_pending_for(PyObject* key) {
  std::int64_t group = key_group_of(key, pending_key_groups_);
  if (group < 0) {
    PyErr_Clear();
    return false;
  }
  if (pending_[static_cast<std::size_t>(group)].keys == 0) {
    return false;
  }
  restore_group(static_cast<std::uint32_t>(group));
  return true;
}

bool KeyedStateTable::restore_pending(std::size_t at_most) {
  for (std::size_t restored = 0; has_pending() && restored < at_most; ++pending_next_) {
    if (pending_next_ >= pending_.size()) {
      pending_next_ = 0;
    }
    if (pending_[pending_next_].keys > 0) {
      restore_group(static_cast<std::uint32_t>(pending_next_));
      ++restored;
    }
  }
  return !has_pending();
}

void KeyedStateTable::restore_group(std::uint32_t group) {
  PendingGroup pending = std::exchange(pending_[group], {});
  pending_keys_ -= pending.keys;
  if (pending_keys_ == 0) {
    pending_ = {};
  }
  if (has_left_keys()) [[unlikely]] {
    remove_left_keys(left_keys_.size());
  }
  std::string_view records = pending.records;
  std::unordered_map<std::string, std::size_t> unnamed;  // names of the keys that could not be read back
  while (!records.empty()) {
    auto key = take_sized(records);
    auto value = take_sized(records);
    try {
      restore_one(key, value, pending_codec_, true);
    } catch (const StateSerializationError& error) {
      note_restore_failure(pending.peer, error.what());
      if (auto name = kept_key_name(key, pending_codec_)) {
        ++unnamed[*name];
      }
    }
  }
  if (!unnamed.empty()) {
    forget_names(unnamed);
  }
}

std::map<std::string, std::pair<std::size_t, std::string>> KeyedStateTable::take_restore_failures() {
  return std::exchange(restore_failures_, {});
}

}  // namespace roo::state
