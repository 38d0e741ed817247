#include "roo/state/changed_states.hpp"

namespace roo::state {

void ChangedStates::insert(Slot& slot, PyObject* state, PyObject* key) {
  Py_INCREF(key);
  slot = Slot{state, key};
  // At most half full, so a probe ends soon: the table grows (rarely: doubling) rather than filling up.
  if (++used_ * 2 > slots_.size()) {
    grow();
  }
}

void ChangedStates::grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  for (const Slot& slot : old) {
    if (slot.state == nullptr) {
      continue;
    }
    std::size_t i = slot_of(slot.state);
    while (slots_[i].state != nullptr) {
      i = (i + 1) & (slots_.size() - 1);
    }
    slots_[i] = slot;
  }
}

void ChangedStates::clear() {
  for (Slot& slot : slots_) {
    if (slot.state != nullptr) {
      Py_DECREF(slot.key);
      slot = Slot{};
    }
  }
  used_ = 0;
  recent_.fill(nullptr);
}

}  // namespace roo::state
