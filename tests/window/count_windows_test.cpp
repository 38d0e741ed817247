// Count windows (CountWindows through make_window_operator): an output at every n-th event of a key, a partial
// window output by tick() count_timeout_ns of wall clock after its first event.
#include "window_fixture.hpp"

#include <chrono>

namespace roo::window::test {
namespace {

using graph::end_of_time;

constexpr std::int64_t timeout = 5'000'000'000;

std::int64_t wall_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(CountWindows, OutputEveryNthEventAndPartialWindowsAfterTheTimeout) {
  WindowStage stage(count_spec(3, timeout), "Collect");
  stage.add("a", "x", 1);
  stage.add("a", "y", 2);
  std::int64_t before_b = wall_now();
  stage.add("b", "p", 3);
  std::int64_t after_b = wall_now();
  stage.add("a", "z", 4);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x,y,z@4"}));
  std::int64_t b_due = stage.op->next_tick();  // a's window was output: only b's is open
  EXPECT_GE(b_due, before_b + timeout);
  EXPECT_LE(b_due, after_b + timeout);
  std::int64_t before_w = wall_now();
  stage.add("a", "w", 6);
  std::int64_t after_w = wall_now();
  EXPECT_EQ(stage.op->next_tick(), b_due);
  EXPECT_EQ(stage.op->next_due(), end_of_time);
  stage.op->tick(b_due - 1, stage.out);
  EXPECT_EQ(stage.out.take(), Lines{});
  stage.op->tick(b_due, stage.out);
  EXPECT_EQ(stage.out.take(), (Lines{"b=p@3"}));
  std::int64_t w_due = stage.op->next_tick();
  EXPECT_GE(w_due, before_w + timeout);
  EXPECT_LE(w_due, after_w + timeout);
  stage.op->tick(w_due, stage.out);
  EXPECT_EQ(stage.out.take(), (Lines{"a=w@6"}));
  EXPECT_EQ(stage.op->next_tick(), end_of_time);
  stage.add("a", "v", 7);  // a new window after a partial one: counts from 1 again
  stage.add("a", "u", 8);
  stage.add("a", "t", 9);
  EXPECT_EQ(stage.out.take(), (Lines{"a=v,u,t@9"}));
  EXPECT_EQ(stage.op->late_events(), 0u);
}

TEST(CountWindows, RaisingUserCodeCostsItsEventOrWindowOnly) {
  WindowStage stage(count_spec(2, timeout), "Collect");
  stage.add("a", "bad", 1);  // lost: not counted in the window
  stage.add("a", "x", 2);
  stage.add("a", "y", 3);
  stage.add("b", "boom", 4);
  stage.add("b", "q", 5);  // output raises: the window is lost
  stage.add("c", "skip", 6);
  stage.add("c", "r", 7);  // output None: no output
  stage.add("b", "s", 8);
  stage.add(py::list(), py::str("unhashable"), 9);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x,y@3"}));
  EXPECT_EQ(stage.errors.failures(), 3u);
  stage.op->tick(end_of_time, stage.out);
  EXPECT_EQ(stage.out.take(), (Lines{"b=s@8"}));
}

TEST(CountWindows, AnUpdateThatReturnsANewAccumulatorReplacesIt) {
  WindowStage stage(count_spec(2, timeout), "Sum");
  stage.add(py::str("a"), py::int_(1), 1);
  stage.add(py::str("a"), py::int_(2), 2);
  stage.add(py::str("a"), py::int_(5), 3);
  stage.op->tick(end_of_time, stage.out);
  EXPECT_EQ(stage.out.take(), (Lines{"a=3@2", "a=5@3"}));
}

TEST(CountWindows, RestoredWindowsKeepTheirDeadlines) {
  WindowStage stage(count_spec(3, timeout), "Collect");
  stage.add("a", "x", 1);
  stage.add("b", "y", 2);
  std::int64_t due = stage.op->next_tick();
  stage.checkpoint_and_restore();
  EXPECT_EQ(stage.op->next_tick(), due);
  stage.add("a", "z", 3);
  stage.add("a", "w", 4);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x,z,w@4"}));
  stage.op->tick(end_of_time, stage.out);
  EXPECT_EQ(stage.out.take(), (Lines{"b=y@2"}));
  EXPECT_EQ(stage.op->next_tick(), end_of_time);
}

TEST(CountWindows, AMalformedRestoredStateLosesOnlyItsKeysWindow) {
  WindowStage stage(count_spec(2, timeout), "Collect");
  stage.add("a", "x", 1);
  stage.add("b", "y", 2);
  stage.checkpoint_and_restore();
  // b's state as another kind of stage would have left it: replaced by a fresh one when restored.
  ASSERT_EQ(PyDict_SetItemString(stage.table.states(), "b", Py_None), 0);
  stage.op->restored();
  EXPECT_TRUE(PyList_Check(PyDict_GetItemString(stage.table.states(), "b")));
  stage.add("a", "z", 3);
  stage.add("b", "q", 4);
  stage.add("b", "r", 5);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x,z@3", "b=q,r@5"}));
  stage.op->tick(end_of_time, stage.out);
  EXPECT_EQ(stage.out.take(), Lines{});  // b's lost window (y) is not output later either
}

}  // namespace
}  // namespace roo::window::test
