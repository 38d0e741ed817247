#pragma once

#include <Python.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace roo::state {

/// The state objects handed to user code since the last checkpoint, each with its key: an open-addressing table
/// keyed by the state object's address, so that marking one costs a probe and no Python hashing (this is on the
/// per-event path of every state computation while checkpoints are on). The keys are held (a reference each) until
/// clear().
///
/// One state object under two different keys (a state factory that returns a shared object) cannot be told apart
/// by address: the table notices that when the factory hands it an object held elsewhere too, and then takes every
/// key at each snapshot. Lives on the executor (the GIL held).
class ChangedStates {
 public:
  ChangedStates() : slots_(initial_slots) {}
  ~ChangedStates() { clear(); }
  ChangedStates(const ChangedStates&) = delete;
  ChangedStates& operator=(const ChangedStates&) = delete;

  /// `state` (of `key`) was handed to user code.
  void add(PyObject* state, PyObject* key) {
    // Most events reach a state marked already, and often one of the few hot keys: a small direct-mapped array
    // (it stays in L1) answers those without a probe of the table, which for thousands of keys is an L2 miss.
    PyObject*& recent = recent_[recent_slot_of(state)];
    if (recent == state) {
      return;
    }
    recent = state;
    for (std::size_t i = slot_of(state);; i = (i + 1) & (slots_.size() - 1)) {
      Slot& slot = slots_[i];
      if (slot.state == state) {
        return;
      }
      if (slot.state == nullptr) {
        insert(slot, state, key);
        return;
      }
    }
  }

  [[nodiscard]] std::size_t size() const { return used_; }

  /// Calls `visit(key)` for each state marked (in no particular order).
  template <class Visit>
  void for_each_key(Visit&& visit) const {
    for (const Slot& slot : slots_) {
      if (slot.state != nullptr) {
        visit(slot.key);
      }
    }
  }

  /// Forgets the marks whose key `forget(key)` names (keys that left the table), keeping the others.
  template <class Forget>
  void forget_if(Forget&& forget) {
    std::vector<Slot> kept;
    for (const Slot& slot : slots_) {
      if (slot.state != nullptr && !forget(slot.key)) {
        Py_INCREF(slot.key);
        kept.push_back(slot);
      }
    }
    clear();
    for (const Slot& slot : kept) {
      add(slot.state, slot.key);
      Py_DECREF(slot.key);
    }
  }

  /// Forgets every mark (and releases the keys).
  void clear();

 private:
  struct Slot {
    PyObject* state = nullptr;
    PyObject* key = nullptr;  ///< a reference owned here
  };
  static constexpr std::size_t initial_slots = 64;  // a power of two
  static constexpr int recent_bits = 10;            // 1,024 pointers: 8 KiB

  /// The state's address, mixed (Fibonacci hashing): both tables take their slot from its bits.
  [[nodiscard]] static std::uint64_t mixed(PyObject* state) {
    auto bits = reinterpret_cast<std::uintptr_t>(state) >> 4;  // objects are 16-byte aligned
    return bits * 0x9e3779b97f4a7c15ULL;
  }
  [[nodiscard]] std::size_t slot_of(PyObject* state) const {
    return static_cast<std::size_t>(mixed(state) >> 20) & (slots_.size() - 1);
  }
  [[nodiscard]] static std::size_t recent_slot_of(PyObject* state) {
    return static_cast<std::size_t>(mixed(state) >> (64 - recent_bits));
  }
  void insert(Slot& slot, PyObject* state, PyObject* key);
  void grow();

  std::vector<Slot> slots_;
  std::size_t used_ = 0;
  /// States known to be in slots_ (a subset; emptied whenever slots_ is): a hit means marked already.
  std::array<PyObject*, std::size_t{1} << recent_bits> recent_{};
};

}  // namespace roo::state
