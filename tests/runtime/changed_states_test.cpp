// ChangedStates, the per-event change marks of a state table: each state counted once per interval however often
// it is reached, every mark gone after clear(), and the marks kept by forget_if() still answering as marked.
#include "roo/state/changed_states.hpp"

#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include <algorithm>
#include <string>
#include <vector>

namespace py = pybind11;

namespace roo::state {
namespace {

std::vector<std::string> keys_of(const ChangedStates& changed) {
  std::vector<std::string> keys;
  changed.for_each_key([&](PyObject* key) { keys.push_back(py::str(key).cast<std::string>()); });
  std::sort(keys.begin(), keys.end());
  return keys;
}

// 3,000 states (more than the 1,024 recent pointers, so some share a recent slot) reached again and again.
TEST(ChangedStates, CountsEachStateOnceHoweverOftenItIsReached) {
  std::vector<py::object> states;
  std::vector<py::str> keys;
  for (int i = 0; i < 3000; ++i) {
    states.push_back(py::list());
    keys.push_back(py::str("k" + std::to_string(i)));
  }
  ChangedStates changed;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3000; i += round + 1) {
      changed.add(states[i].ptr(), keys[i].ptr());
    }
  }
  EXPECT_EQ(changed.size(), 3000u);
  EXPECT_EQ(keys_of(changed).size(), 3000u);
}

// After clear() a state reached again is a new change: the recent pointers must not remember it.
TEST(ChangedStates, AStateReachedAfterClearIsMarkedAgain) {
  py::list state;
  py::str key("apple");
  ChangedStates changed;
  changed.add(state.ptr(), key.ptr());
  changed.add(state.ptr(), key.ptr());
  EXPECT_EQ(changed.size(), 1u);
  changed.clear();
  EXPECT_EQ(changed.size(), 0u);
  changed.add(state.ptr(), key.ptr());
  EXPECT_EQ(changed.size(), 1u);
  EXPECT_EQ(keys_of(changed), std::vector<std::string>{"apple"});
}

TEST(ChangedStates, ForgetIfDropsTheNamedKeysAndKeepsTheOthersMarked) {
  py::list apple_state;
  py::list banana_state;
  py::str apple("apple");
  py::str banana("banana");
  ChangedStates changed;
  changed.add(apple_state.ptr(), apple.ptr());
  changed.add(banana_state.ptr(), banana.ptr());
  changed.forget_if([](PyObject* key) { return py::str(key).cast<std::string>() == "apple"; });
  EXPECT_EQ(keys_of(changed), std::vector<std::string>{"banana"});
  changed.add(banana_state.ptr(), banana.ptr());
  EXPECT_EQ(changed.size(), 1u);
  changed.add(apple_state.ptr(), apple.ptr());
  EXPECT_EQ(keys_of(changed), (std::vector<std::string>{"apple", "banana"}));
}

}  // namespace
}  // namespace roo::state
