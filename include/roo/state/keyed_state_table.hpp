#pragma once

#include "roo/checkpoint/snapshot.hpp"
#include "roo/core/error.hpp"
#include "roo/python/py_ref.hpp"
#include "roo/state/changed_states.hpp"
#include "roo/state/plain_object_codec.hpp"

#include <Python.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace roo::state {

/// How keys and state objects become bytes in a checkpoint and back. Keys of built-in data types go through marshal
/// (MarshalCodec), other keys through pickle; state objects through the application's serialize/deserialize when it
/// defines them (Wallaroo's rule for everything it stores), otherwise: built-in data through marshal, objects of plain
/// classes through `plain` (PlainObjectCodec; null with the application's serialize), the rest through pickle.
struct StateCodec {
  python::PyRef dump_key;
  python::PyRef load_key;
  python::PyRef dump_state;
  python::PyRef load_state;
  std::shared_ptr<PlainObjectCodec> plain;

  /// Whether states are Roo's to write (pickle, marshal, plain objects) rather than the application's.
  [[nodiscard]] bool roo_writes_states() const { return dump_state.get() == dump_key.get(); }
};

/// A state object or key that could not be turned into bytes, or back. The message names the step and the key:
/// "the state of key 'a' in state computation 'count' could not be pickled: TypeError: cannot pickle ...".
class StateSerializationError : public core::Error {
 public:
  using core::Error::Error;
};

/// The state objects of one state table (every stage sharing one state id, docs/description.md): key -> state
/// object, created on first use by the table's factory. Owned by the runtime, not the plan, so that a checkpoint
/// can snapshot it and a recovery refill it.
///
/// Change tracking (on once checkpoints are on): every key whose state a user function was handed is remembered
/// until the next snapshot, so a checkpoint serializes what changed, not everything.
///
/// Lives on the Python executor: call everything with the GIL held, except key_names() (any thread).
class KeyedStateTable {
 public:
  /// `label` names the table's step for messages ("state computation 'count'").
  KeyedStateTable(std::string name, std::string label, python::PyRef factory);

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& label() const { return label_; }
  /// The key -> state dict (borrowed).
  [[nodiscard]] PyObject* states() const { return states_.get(); }
  [[nodiscard]] PyObject* factory() const { return factory_.get(); }
  /// The keys held: those kept to restore counted (keep_to_restore()), those that left but are still to be removed
  /// not (remove_left_keys()).
  [[nodiscard]] std::size_t size() const {
    auto held = static_cast<std::size_t>(PyDict_GET_SIZE(states_.get())) + pending_keys_;
    std::size_t left = left_keys_.size() - left_removed_;
    return held > left ? held - left : 0;
  }

  /// From now on, remember the keys whose state changes (see touch()).
  void track_changes();
  /// The per-event mark: `state`, the state of `key`, was handed to user code. One branch when tracking is off.
  void touch(PyObject* key, PyObject* state) {
    if (tracking_) {
      changed_.add(state, key);
    }
  }
  /// Whether any key's state may have changed since the last forget_changes() (always true while not tracking).
  [[nodiscard]] bool has_changes() const {
    return !tracking_ || changed_.size() > 0 || (has_pending() && !pending_checkpointed_);
  }
  /// The factory returned `state` for a new key. An object held elsewhere too may be every key's state (a factory
  /// that returns a shared object): changes can then not be told apart by object, and every snapshot takes every key.
  void created(PyObject* state) {
    if (Py_REFCNT(state) > 1) {
      shared_states_ = true;
    }
  }
  /// A new key got its state: remembered (as text) for the external channel's state-entity queries.
  void remember_key(PyObject* key);
  /// The keys held, as text. Any thread.
  [[nodiscard]] std::vector<std::string> key_names() const;

  /// Adds this table's changed keys (every key when `full`, or when a change could not be tracked) to `snapshot`
  /// as table `index`, each with its key group among `key_groups`. Returns the number of keys added. Throws
  /// StateSerializationError (the Python error cleared) naming the key that failed; the changes stay marked.
  std::size_t snapshot(std::uint32_t index, checkpoint::Snapshot& snapshot, bool full, const StateCodec& codec,
                       std::uint32_t key_groups);
  /// After every table's snapshot succeeded: the changes are in it, start remembering afresh.
  void forget_changes();

  /// What hand_over() did.
  struct HandedOver {
    std::size_t keys = 0;       ///< handed to `take`
    std::size_t failed = 0;     ///< removed, but their state (or key) could not be serialized: lost
    std::string first_failure;  ///< the first of those, as snapshot() would have thrown it
  };
  /// Receives one key handed over: its key group and its key and state serialized (views valid during the call).
  using Take = std::function<void(std::uint32_t key_group, std::string_view key, std::string_view value)>;
  /// Rescaling (docs/cluster.md, "Growing and shrinking"): every key whose key group among `key_groups` is marked in
  /// `leaving` (by key group) leaves this table — its state, its name for the state-entity queries, its change
  /// mark — and goes to `take`, serialized as snapshot() does. A key whose state cannot be serialized leaves too (its
  /// key group belongs to another worker now): counted in `failed`, with the first one's line.
  ///
  /// `remove_later`: the keys that left stay in the dict until remove_left_keys() takes them out, so that their
  /// removal (a cache miss or two per key: a quarter of a large hand-over) comes after the stream resumed instead of
  /// inside the rescale's pause. Only for a table whose dict nothing walks between events: no event reaches a key
  /// that left (it is routed to its new owner); hand_over() and restore() remove the rest first, snapshot() skips
  /// them.
  HandedOver hand_over(const std::vector<bool>& leaving, std::uint32_t key_groups, const StateCodec& codec,
                       const Take& take, bool remove_later = false);
  /// Removes up to `at_most` of the keys a hand_over(remove_later) left in the dict. True once none is left.
  bool remove_left_keys(std::size_t at_most);
  /// Whether a hand_over(remove_later) left keys to remove.
  [[nodiscard]] bool has_left_keys() const { return left_removed_ < left_keys_.size(); }

  /// Recovery: sets the state of the key serialized as `key` to the object serialized as `value`. Throws
  /// StateSerializationError when either cannot be read back.
  void restore(std::string_view key, std::string_view value, const StateCodec& codec);

  /// Rescaling, the new owner's side: the record of one key of key group `group` (of `key_groups`), handed over by
  /// worker `peer`, kept as it came. The group's keys are restored (restore()) together when an event first needs
  /// one of them (restore_pending_for(), on a lookup that missed), a group at a time after the stream resumed
  /// (restore_pending()), or all at once before anything gives away or refills the dict (hand_over(), restore()).
  /// A snapshot copies the kept records as they are (into every snapshot until one is taken and forgotten with
  /// forget_changes(), and into every full one). So the rescale's pause holds a copy of the bytes, not the making of
  /// every object.
  /// Not for a window stage's table (its index walks the dict).
  void keep_to_restore(std::uint32_t group, std::uint32_t key_groups, std::string_view key, std::string_view value,
                       const StateCodec& codec, const std::string& peer);
  /// Whether keep_to_restore() kept keys not restored yet.
  [[nodiscard]] bool has_pending() const { return pending_keys_ > 0; }
  /// If the key group of `key` has kept keys, restores them now; true when it did (look `key` up again).
  bool restore_pending_for(PyObject* key);
  /// Restores the kept keys of up to `at_most` key groups. True once none is left.
  bool restore_pending(std::size_t at_most);
  /// Kept keys that could not be read back (lost), by the worker that handed them over: (keys, the first one's
  /// line). Emptied by the call.
  [[nodiscard]] std::map<std::string, std::pair<std::size_t, std::string>> take_restore_failures();

 private:
  /// One key serialized (serialize()): its bytes (`key`: a view into `key_object` or key_bytes_) and its state's
  /// (`value`: a view into `state` or plain_bytes_), valid until the next call; `replacement`: a fresh copy of a plain
  /// state for the table (see PlainObjectCodec::write).
  struct Serialized {
    std::string_view key;
    python::PyRef key_object;
    python::PyRef state;
    std::string_view value;
    python::PyRef replacement;
  };
  /// Throws StateSerializationError (the Python error cleared) naming `key`. `holders`: as PlainObjectCodec::write.
  void serialize(PyObject* key, PyObject* state, const StateCodec& codec, Py_ssize_t holders, Serialized& out);
  [[nodiscard]] StateSerializationError failure(PyObject* key, const char* what, const char* verb) const;
  /// How the state-entity queries name `key` (none when it has no text).
  [[nodiscard]] static std::optional<std::string> key_name(PyObject* key);
  /// Removes `keys` (every key the dict held when the hand-over began) from the dict.
  void drop(const std::vector<std::pair<python::PyRef, std::uint32_t>>& keys);
  /// Forgets the names and change marks of `keys` (each with its key group), which left the table: every key of the
  /// groups `leaving` marks (among `key_groups`). `names_follow_groups`: every key's name hashes to its key group, so
  /// the names whose group left go (else each of `keys` is named and looked up).
  void forget_keys(const std::vector<std::pair<python::PyRef, std::uint32_t>>& keys, const std::vector<bool>& leaving,
                   bool names_follow_groups, std::uint32_t key_groups);

  std::string name_;
  std::string label_;
  python::PyRef factory_;
  python::PyRef states_;
  bool tracking_ = false;
  bool shared_states_ = false;
  ChangedStates changed_;
  mutable std::mutex keys_mutex_;
  std::vector<std::string> key_names_;  ///< guarded by keys_mutex_
  std::string key_bytes_;               ///< serialize(): a marshalled key's bytes, reused
  std::string plain_bytes_;             ///< serialize(): a marshalled or plain object's bytes, reused
  /// keep_to_restore(): one key group's kept records (`u32 key size | key | u32 value size | value`, native order).
  struct PendingGroup {
    std::string records;
    std::size_t keys = 0;
    std::string peer;
  };
  void restore_group(std::uint32_t group);
  /// restore() without the checks for kept and left keys. `named`: the key's name is listed already (a kept key).
  void restore_one(std::string_view key, std::string_view value, const StateCodec& codec, bool named = false);
  /// The key serialized as `key`: a new reference, or null with the Python error set.
  [[nodiscard]] static python::PyRef read_key(std::string_view key, const StateCodec& codec);
  /// How the state-entity queries name the key serialized as `key` (a str's UTF-8 without making the str).
  [[nodiscard]] static std::optional<std::string> kept_key_name(std::string_view key, const StateCodec& codec);
  void note_restore_failure(const std::string& peer, std::string line);
  /// Removes one listed name per count in `names` (name -> how many keys of that name went).
  void forget_names(std::unordered_map<std::string, std::size_t>& names);
  void restore_all_pending() {
    if (has_pending()) [[unlikely]] {
      restore_pending(pending_.size());
    }
  }
  std::vector<PendingGroup> pending_;  ///< by key group, while has_pending()
  std::size_t pending_keys_ = 0;
  std::size_t pending_next_ = 0;  ///< restore_pending(): where its next walk starts
  std::uint32_t pending_key_groups_ = 0;
  bool pending_checkpointed_ = false;  ///< every kept key is in a snapshot since forgotten (forget_changes())
  StateCodec pending_codec_;
  std::map<std::string, std::pair<std::size_t, std::string>> restore_failures_;
  std::vector<python::PyRef> left_keys_;  ///< hand_over(remove_later): keys that left, still in the dict
  std::vector<bool> left_groups_;         ///< the key groups they left with (of left_key_groups_)
  std::uint32_t left_key_groups_ = 0;
  std::size_t left_removed_ = 0;  ///< how many of left_keys_ remove_left_keys() took out
};

}  // namespace roo::state
