// Session windows (SessionWindows through make_window_operator): an event within `gap` of a key's session joins
// it, sessions an event bridges merge, a session [start, last] is output at time `last` once the watermark
// reaches last + gap + delay, and nothing ever reopens a session already output.
#include "window_fixture.hpp"

namespace roo::window::test {
namespace {

using graph::end_of_time;
using graph::LatePolicy;

TEST(SessionWindows, AnEventExactlyAtTheSessionsEndStartsANewOne) {
  WindowStage stage(session_spec(10, 0), "Collect");
  stage.add("a", "x", 0);
  stage.add("a", "y", 5);
  EXPECT_EQ(stage.op->next_due(), 15);
  stage.add("a", "z", 15);
  EXPECT_EQ(stage.op->next_due(), 15);
  stage.advance(14);
  EXPECT_EQ(stage.out.take(), Lines{});
  stage.advance(15);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x,y@5"}));
  EXPECT_EQ(stage.op->next_due(), 25);
  stage.advance(25);
  EXPECT_EQ(stage.out.take(), (Lines{"a=z@15"}));
  EXPECT_EQ(stage.op->next_due(), end_of_time);
  EXPECT_EQ(stage.op->next_tick(), end_of_time);
}

TEST(SessionWindows, AnEventBridgingTwoSessionsMergesThem) {
  WindowStage stage(session_spec(10, 0), "Collect");
  stage.add("a", "x", 0);
  stage.add("a", "y", 18);
  EXPECT_EQ(stage.op->next_due(), 10);
  stage.add("a", "m", 9);  // within gap of both
  EXPECT_EQ(stage.op->next_due(), 28);
  stage.add("a", "n", -5);  // within gap before the start
  stage.add("b", "p", 0);
  stage.add("b", "q", 30);
  EXPECT_EQ(stage.op->next_due(), 10);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"b=p@0", "a=x,y,m,n@18", "b=q@30"}));
  EXPECT_EQ(stage.op->late_events(), 0u);
}

TEST(SessionWindows, NextDueFollowsTheEarliestSession) {
  WindowStage stage(session_spec(10, 2), "Collect");
  stage.add("a", "x", 0);
  EXPECT_EQ(stage.op->next_due(), 12);
  stage.add("a", "y", 8);
  EXPECT_EQ(stage.op->next_due(), 20);
  stage.add("b", "p", 1);
  EXPECT_EQ(stage.op->next_due(), 13);
  stage.advance(13);
  EXPECT_EQ(stage.out.take(), (Lines{"b=p@1"}));
  EXPECT_EQ(stage.op->next_due(), 20);
}

TEST(SessionWindows, AnOldEventThatJoinsAnOpenSessionIsNotLate) {
  WindowStage stage(session_spec(10, 0), "Collect");
  stage.add("a", "x", 0);
  stage.add("a", "y", 5);
  stage.advance(14);
  stage.add("a", "old", 3);  // 3 + gap <= 14: too old for a session of its own, but [0, 5] is open
  stage.add("a", "older", -6);  // within gap before the start: the session starts at -6
  stage.add("b", "alone", 1);  // b has no open session: late
  EXPECT_EQ(stage.op->late_events(), 1u);
  stage.advance(15);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x,y,old,older@5"}));
}

// a's session [0, 5] is output at watermark 15; then a late event inside it, at 7.
void emit_then_late(WindowStage& stage) {
  stage.add("a", "x", 0);
  stage.add("a", "y", 5);
  stage.advance(15);
  stage.add("a", "late", 7);
}

TEST(SessionWindows, ALateEventInsideAnOutputSessionIsDropped) {
  WindowStage stage(session_spec(10, 0, LatePolicy::drop), "Collect");
  emit_then_late(stage);
  stage.add("a", "q", 14);  // before the output session's end (5 + 10): late too, never a second session
  stage.add("b", "old", 2);  // 2 + gap <= watermark 15: late
  EXPECT_EQ(stage.op->late_events(), 3u);
  EXPECT_EQ(stage.op->next_due(), end_of_time);
  stage.add("a", "n", 15);  // at the end: a new session
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x,y@5", "a=n@15"}));
}

TEST(SessionWindows, ALateEventInsideAnOutputSessionFiresAlone) {
  WindowStage stage(session_spec(10, 0, LatePolicy::fire_per_message), "Collect");
  emit_then_late(stage);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x,y@5", "a=late@7"}));
  EXPECT_EQ(stage.op->late_events(), 1u);
  EXPECT_EQ(stage.op->next_due(), end_of_time);
}

TEST(SessionWindows, ALateEventGoesIntoTheKeysOldestOpenSessionElseFiresAlone) {
  WindowStage stage(session_spec(10, 0, LatePolicy::place_in_oldest_window), "Collect");
  emit_then_late(stage);  // a has no open session: fired alone
  stage.add("a", "o", 30);
  stage.add("a", "late2", 8);
  EXPECT_EQ(stage.op->late_events(), 2u);
  EXPECT_EQ(stage.op->next_due(), 40);  // the session keeps its bounds
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x,y@5", "a=late@7", "a=o,late2@30"}));
}

TEST(SessionWindows, RaisingUserCodeCostsItsEventOrSessionOnly) {
  WindowStage stage(session_spec(10, 0), "Collect");
  stage.add("a", "bad", 0);  // no session opened
  EXPECT_EQ(stage.op->next_due(), end_of_time);
  stage.add("b", "boom", 0);
  stage.add("c", "skip", 0);
  stage.add("d", "x", 0);
  stage.add("e", "nocombine", 0);
  stage.add("e", "y", 18);
  stage.add("e", "bridge", 9);  // combine raises: the event is lost, the sessions stay apart
  stage.add(py::list(), py::str("unhashable"), 0);
  EXPECT_EQ(stage.errors.failures(), 3u);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"d=x@0", "e=nocombine@0", "e=y@18"}));
  EXPECT_EQ(stage.errors.failures(), 4u);
}

TEST(SessionWindows, AnUpdateThatReturnsANewAccumulatorReplacesIt) {
  WindowStage stage(session_spec(10, 0), "Sum");
  stage.add(py::str("a"), py::int_(1), 0);
  stage.add(py::str("a"), py::int_(2), 3);
  stage.add(py::str("a"), py::int_(4), 20);
  stage.add(py::str("a"), py::int_(8), 11);  // bridges [0, 3] and [20, 20]
  stage.add(py::str("b"), py::int_(5), 0);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"b=5@0", "a=15@20"}));
}

void sessions_before_checkpoint(WindowStage& stage) {
  stage.add("a", "x", 0);
  stage.add("a", "y", 5);
  stage.add("b", "p", 3);
  stage.advance(15);
  stage.add("a", "z", 20);
  stage.add("b", "late", 4);
}

void sessions_after_checkpoint(WindowStage& stage) {
  stage.add("a", "late", 12);  // inside a's output session
  stage.add("a", "w", 25);
  stage.add("b", "r", 16);
  stage.advance(end_of_time);
}

TEST(SessionWindows, RestoredSessionsGiveTheSameFutureOutputs) {
  WindowStage reference(session_spec(10, 0), "Collect");
  WindowStage refilled(session_spec(10, 0), "Collect");
  sessions_before_checkpoint(reference);
  sessions_before_checkpoint(refilled);
  EXPECT_EQ(reference.out.take(), (Lines{"b=p@3", "a=x,y@5"}));
  refilled.out.take();
  refilled.checkpoint_and_restore();
  WindowStage recovered(session_spec(10, 0), "Collect");
  recovered.watermark = reference.watermark;
  ASSERT_EQ(PyDict_Update(recovered.table.states(), reference.table.states()), 0);
  recovered.checkpoint_and_restore();
  EXPECT_EQ(reference.op->next_due(), 30);
  EXPECT_EQ(refilled.op->next_due(), 30);
  EXPECT_EQ(recovered.op->next_due(), 30);
  sessions_after_checkpoint(reference);
  sessions_after_checkpoint(refilled);
  sessions_after_checkpoint(recovered);
  Lines expected{"b=r@16", "a=z,w@25"};
  EXPECT_EQ(reference.out.take(), expected);
  EXPECT_EQ(refilled.out.take(), expected);
  EXPECT_EQ(recovered.out.take(), expected);
  EXPECT_EQ(reference.op->late_events(), 2u);
  EXPECT_EQ(recovered.op->late_events(), 1u);
}

}  // namespace
}  // namespace roo::window::test
