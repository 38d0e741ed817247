// Range windows (RangeWindows through make_window_operator): every output computed by hand from the rules of
// docs/windows.md: windows [k*slide, k*slide + range), fired at watermark >= end + delay, output time end - 1.
#include "window_fixture.hpp"

#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"

#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <sstream>

namespace roo::window::test {
namespace {

using graph::end_of_time;
using graph::LatePolicy;

TEST(RangeWindows, TumblingWindowsFireAtTheirEndPlusDelay) {
  WindowStage stage(range_spec(10, 10, 5), "Collect");
  stage.add("a", "x", 1);
  stage.add("a", "y", 4);
  stage.add("b", "z", 7);
  stage.add("a", "w", 12);
  EXPECT_EQ(stage.op->next_due(), 15);
  stage.advance(14);
  EXPECT_EQ(stage.out.take(), Lines{});
  stage.advance(15);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x,y@9", "b=z@9"}));
  EXPECT_EQ(stage.op->next_due(), 25);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=w@19"}));
  EXPECT_EQ(stage.op->next_due(), end_of_time);
  EXPECT_EQ(stage.op->next_tick(), end_of_time);
  EXPECT_EQ(stage.op->late_events(), 0u);
  EXPECT_EQ(stage.table.size(), 2u);
}

TEST(RangeWindows, SlidingWindowsCombineTheirPanesInTimeOrder) {
  WindowStage stage(range_spec(30, 10, 0), "Collect");
  stage.add("a", "p", 5);
  stage.add("a", "q", 15);
  stage.add("a", "r", 25);
  stage.add("b", "s", 12);
  EXPECT_EQ(stage.op->next_due(), 10);  // [-20, 10) holds the pane at 0
  stage.advance(19);
  EXPECT_EQ(stage.out.take(), (Lines{"a=p@9"}));
  EXPECT_EQ(stage.op->next_due(), 20);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=p,q@19", "b=s@19", "a=p,q,r@29", "b=s@29", "a=q,r@39", "b=s@39", "a=r@49"}));
  EXPECT_EQ(stage.op->next_due(), end_of_time);
}

TEST(RangeWindows, SlidingWindowsOfAlignedKeysSpreadTheirRefillsOverTheFirings) {
  // 50 keys, an event in each of 10 panes of every 100-long window sliding by 10: a refill of a key's running
  // aggregate costs ~9 combine() calls, the other windows ~2; if every key refilled in the same firing, that firing
  // would take ~550 calls.
  constexpr int keys = 50;
  WindowStage stage(range_spec(100, 10, 0), "CountedSum");
  py::object counted = py::module_::import("window_aggregations").attr("CountedSum");
  std::vector<long> values;  // values[pane * keys + key]
  for (int pane = 0; pane < 40; ++pane) {
    for (int key = 0; key < keys; ++key) {
      long value = (pane * 7 + key * 3) % 11;
      values.push_back(value);
      stage.add(py::str("k" + std::to_string(key)), py::int_(value), pane * 10 + 5);
    }
  }
  std::size_t most = 0;
  for (int end = 10; end <= 400; end += 10) {
    counted.attr("combines") = 0;
    stage.advance(end);
    most = std::max(most, counted.attr("combines").cast<std::size_t>());
    Lines lines = stage.out.take();
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(keys)) << "window ending at " << end;
    for (int key = 0; key < keys; ++key) {
      long sum = 0;
      for (int pane = std::max(0, end / 10 - 10); pane < end / 10; ++pane) {
        sum += values[static_cast<std::size_t>(pane * keys + key)];
      }
      std::string line = "k" + std::to_string(key) + "=" + std::to_string(sum) + "@" + std::to_string(end - 1);
      EXPECT_NE(std::find(lines.begin(), lines.end(), line), lines.end()) << line;
    }
  }
  EXPECT_LE(most, static_cast<std::size_t>(keys) * 4);
}

TEST(RangeWindows, ATidiedSlidingWindowFiresWithOneCombinePerKey) {
  // Keys with an event in every pane of 100-long windows sliding by 10: tidy() after a firing prepares each key's
  // next window, so the firing itself combines only its newest pane onto that (the rest waits until its outputs
  // left: the firing's latency).
  constexpr int keys = 20;
  WindowStage stage(range_spec(100, 10, 0), "CountedSum");
  py::object counted = py::module_::import("window_aggregations").attr("CountedSum");
  for (int pane = 0; pane < 30; ++pane) {
    for (int key = 0; key < keys; ++key) {
      stage.add(py::str("k" + std::to_string(key)), py::int_(1), pane * 10 + 5);
    }
  }
  for (int end = 10; end <= 300; end += 10) {
    counted.attr("combines") = 0;
    stage.advance(end);
    std::size_t firing = counted.attr("combines").cast<std::size_t>();
    Lines lines = stage.out.take();
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(keys)) << "window ending at " << end;
    EXPECT_EQ(lines.front(), "k0=" + std::to_string(std::min(end / 10, 10)) + "@" + std::to_string(end - 1));
    if (end > 20) {  // from the third window on, every key's window was prepared by the last tidy()
      EXPECT_EQ(firing, static_cast<std::size_t>(keys)) << "window ending at " << end;
    }
    stage.tidy();
  }
}

TEST(RangeWindows, TidyingChangesWhenWorkIsDoneNeverTheOutputs) {
  // The same events and watermarks into a stage tidied after every firing and into one never tidied (its add()
  // and advance() tidy first): in-order, out-of-order, partially late and late events, several windows due at
  // once, a pane changed after tidy() prepared the window holding it.
  WindowStage tidied(range_spec(40, 10, 5), "Collect");
  WindowStage untidied(range_spec(40, 10, 5), "Collect");
  unsigned seed = 7;
  auto next = [&seed](unsigned below) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % below;
  };
  EventTime watermark = 0;
  for (int step = 0; step < 400; ++step) {
    std::string key = "k" + std::to_string(next(6));
    EventTime time = watermark + static_cast<EventTime>(next(70)) - 40;  // up to 40 behind the watermark
    std::string data = "e" + std::to_string(step);
    tidied.add(key.c_str(), data.c_str(), time);
    untidied.add(key.c_str(), data.c_str(), time);
    if (next(4) == 0) {
      watermark += static_cast<EventTime>(next(3) == 0 ? 35 : next(12));  // sometimes several windows at once
      tidied.advance(watermark);
      untidied.advance(watermark);
      tidied.tidy();
    }
  }
  tidied.advance(end_of_time);
  untidied.advance(end_of_time);
  Lines outputs = untidied.out.take();
  EXPECT_GT(outputs.size(), 200u);
  EXPECT_EQ(tidied.out.take(), outputs);
  EXPECT_EQ(tidied.op->late_events(), untidied.op->late_events());
  EXPECT_GT(tidied.op->late_events(), 0u);
}

TEST(RangeWindows, APaneChangedAfterTidyPreparedItsWindowCountsInIt) {
  WindowStage stage(range_spec(30, 10, 0), "Sum");
  stage.add(py::str("a"), py::int_(1), 5);
  stage.add(py::str("a"), py::int_(2), 15);
  stage.add(py::str("a"), py::int_(4), 25);
  stage.advance(30);  // fires [-20, 10), [-10, 20), [0, 30)
  stage.tidy();       // prepares [10, 40) from the panes at 10 and 20
  EXPECT_EQ(stage.out.take(), (Lines{"a=1@9", "a=3@19", "a=7@29"}));
  stage.add(py::str("a"), py::int_(8), 22);   // into the prepared pane at 20
  stage.add(py::str("a"), py::int_(16), 35);  // the newest pane
  stage.advance(40);
  EXPECT_EQ(stage.out.take(), (Lines{"a=30@39"}));
  stage.tidy();
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=28@49", "a=16@59"}));
}

TEST(RangeWindows, ARangeThatIsNoMultipleOfTheSlideUsesSmallerPanes) {
  WindowStage stage(range_spec(15, 10, 0), "Collect");  // windows [10k, 10k + 15), panes of 5
  stage.add("a", "x", 3);
  stage.add("a", "y", 12);
  stage.add("a", "z", 17);
  stage.advance(end_of_time);
  // [-10, 5): x; [0, 15): x y; [10, 25): y z
  EXPECT_EQ(stage.out.take(), (Lines{"a=x@4", "a=x,y@14", "a=y,z@24"}));
}

TEST(RangeWindows, PartiallyLateEventsGoIntoTheirUnfiredWindowsOnly) {
  WindowStage stage(range_spec(20, 10, 0), "Collect");
  stage.add("a", "x", 5);
  stage.advance(20);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x@9", "a=x@19"}));
  stage.add("a", "y", 15);  // [0, 20) has fired, [10, 30) has not
  EXPECT_EQ(stage.op->late_events(), 0u);
  stage.add("a", "late", 9);  // [-10, 10) and [0, 20) have both fired
  EXPECT_EQ(stage.op->late_events(), 1u);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=y@29"}));
}

TEST(RangeWindows, APartiallyLateEventInAPaneAlreadyCombinedCountsInTheNextWindows) {
  WindowStage stage(range_spec(30, 10, 0), "Sum");
  stage.add(py::str("a"), py::int_(1), 5);
  stage.add(py::str("a"), py::int_(2), 15);
  stage.advance(30);  // [-20, 10), [-10, 20) and [0, 30) fired: the pane at 10 is in a's running aggregate
  EXPECT_EQ(stage.out.take(), (Lines{"a=1@9", "a=3@19", "a=3@29"}));
  stage.add(py::str("a"), py::int_(4), 12);  // into [10, 40) only; update returns a new int for the pane
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=6@39"}));
}

TEST(RangeWindows, SlidingWindowsAlignedFarInThePastMakeNoEventWronglyLate) {
  constexpr EventTime s = 1'000'000'000;
  constexpr EventTime t = 1'767'225'600 * s;  // 2026-01-01
  WindowStage stage(range_spec(10 * s, s, 0), "Collect");
  stage.add("a", "x", t + s / 2);
  EXPECT_EQ(stage.op->next_due(), t + s);  // the first window holding it: [t - 9 s, t + 1 s)
  stage.advance(t + 5 * s + s / 2);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x@" + std::to_string(t + s - 1), "a=x@" + std::to_string(t + 2 * s - 1),
                                     "a=x@" + std::to_string(t + 3 * s - 1), "a=x@" + std::to_string(t + 4 * s - 1),
                                     "a=x@" + std::to_string(t + 5 * s - 1)}));
  EXPECT_EQ(stage.op->next_due(), t + 6 * s);
  stage.add("a", "y", t + s / 5);  // five of its windows are still open
  EXPECT_EQ(stage.op->late_events(), 0u);
  stage.advance(end_of_time);
  Lines expected;
  for (EventTime end = t + 6 * s; end <= t + 10 * s; end += s) {
    expected.push_back("a=x,y@" + std::to_string(end - 1));
  }
  EXPECT_EQ(stage.out.take(), expected);
}

TEST(RangeWindows, NegativeTimesAlignByFloorDivision) {
  WindowStage stage(range_spec(10, 10, 0), "Collect");
  stage.add("a", "x", -1);
  stage.add("a", "y", -10);
  stage.add("a", "z", -11);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=z@-11", "a=x,y@-1"}));
}

TEST(RangeWindows, LateEventsAreDroppedAndCounted) {
  WindowStage stage(range_spec(10, 10, 0, LatePolicy::drop), "Collect");
  stage.add("a", "x", 5);
  stage.advance(10);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x@9"}));
  stage.add("a", "late", 3);
  EXPECT_EQ(stage.op->late_events(), 1u);
  EXPECT_EQ(stage.op->next_due(), end_of_time);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), Lines{});
}

TEST(RangeWindows, LateEventsAreToldInOneRateLimitedLine) {
  std::ostringstream log;
  auto logger = core::module_logger("window");
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  sink->set_pattern("%v");
  logger->sinks().push_back(sink);
  WindowStage stage(range_spec(10, 10, 0, LatePolicy::drop), "Collect", "range_windows over Collect");
  stage.add("a", "x", 5);
  stage.advance(10);
  stage.add("a", "late", 3);
  stage.add("a", "late", 4);
  stage.add("b", "late", 9);
  logger->sinks().pop_back();
  EXPECT_EQ(stage.op->late_events(), 3u);
  EXPECT_EQ(log.str(), "range_windows over Collect: 1 late event dropped so far\n");  // the next within 10 s
}

TEST(RangeWindows, LateEventsFirePerMessageAtTheirOwnTime) {
  WindowStage stage(range_spec(10, 10, 0, LatePolicy::fire_per_message), "Collect");
  stage.add("a", "x", 5);
  stage.advance(10);
  stage.add("a", "late", 3);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x@9", "a=late@3"}));
  EXPECT_EQ(stage.op->late_events(), 1u);
  EXPECT_EQ(stage.op->next_due(), end_of_time);
}

TEST(RangeWindows, LateEventsGoIntoTheKeysOldestOpenWindowElseTheStages) {
  WindowStage stage(range_spec(10, 10, 0, LatePolicy::place_in_oldest_window), "Collect");
  stage.add("a", "x", 5);
  stage.advance(10);
  stage.add("a", "y", 25);
  stage.add("a", "late", 3);  // a's oldest open window is [20, 30)
  stage.add("b", "lb", 2);    // b has none: the stage's oldest open window is [10, 20)
  EXPECT_EQ(stage.op->late_events(), 2u);
  EXPECT_EQ(stage.op->next_due(), 20);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=x@9", "b=lb@19", "a=y,late@29"}));
}

TEST(RangeWindows, LateEventsInSlidingWindowsGoIntoTheOldestOpenWindowAlone) {
  WindowStage stage(range_spec(30, 10, 0, LatePolicy::place_in_oldest_window), "Collect");
  stage.add("a", "x", 25);
  stage.advance(30);  // windows up to [0, 30) fired; [10, 40) is the oldest open one
  EXPECT_EQ(stage.out.take(), (Lines{"a=x@29"}));
  stage.add("a", "late", 5);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=late,x@39", "a=x@49"}));  // panes in time order
}

TEST(RangeWindows, RaisingUserCodeCostsItsEventOrWindowOnly) {
  WindowStage stage(range_spec(10, 10, 0), "Collect");
  stage.add("a", "bad", 1);  // update raises: the event is lost
  stage.add("a", "ok", 2);
  stage.add("b", "skip", 3);  // output returns None: no output
  stage.add("c", "boom", 4);  // output raises: the window is lost
  stage.add("d", "x", 5);
  stage.add(py::list(), py::str("unhashable"), 6);
  stage.add("e", "bad", 7);  // the only event of e's window: no window at all
  EXPECT_EQ(stage.errors.failures(), 3u);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=ok@9", "d=x@9"}));
  EXPECT_EQ(stage.errors.failures(), 4u);
}

TEST(RangeWindows, AnEventLostToARaisingUpdateLeavesNothingDue) {
  WindowStage stage(range_spec(10, 10, 0), "Collect");
  stage.add("f", "bad", 15);
  EXPECT_EQ(stage.op->next_due(), end_of_time);
  stage.add("f", "ok", 16);
  EXPECT_EQ(stage.op->next_due(), 20);
}

TEST(RangeWindows, ARaisingCombineCostsThatWindowOnly) {
  WindowStage stage(range_spec(20, 10, 0), "Collect");
  stage.add("e", "nocombine", 5);
  stage.add("e", "z", 15);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"e=nocombine@9", "e=z@29"}));
  EXPECT_EQ(stage.errors.failures(), 1u);
}

TEST(RangeWindows, AnUpdateThatReturnsANewAccumulatorReplacesIt) {
  WindowStage stage(range_spec(20, 10, 0), "Sum");
  stage.add(py::str("a"), py::int_(1), 1);
  stage.add(py::str("a"), py::int_(2), 12);
  stage.add(py::str("a"), py::int_(4), 13);
  stage.advance(end_of_time);
  EXPECT_EQ(stage.out.take(), (Lines{"a=1@9", "a=7@19", "a=6@29"}));
}

TEST(RangeWindows, AnAggregationWithoutCombineIsRefused) {
  try {
    WindowStage stage(range_spec(10, 10, 0), "NoCombine", "range_windows over NoCombine");
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_STREQ(error.what(),
                 "use aggregation NoCombine in 'range_windows over NoCombine': it has no method combine(acc1, acc2)");
  }
}

TEST(RangeWindows, ASlideAboveTheRangeIsRefused) {
  try {
    WindowStage stage(range_spec(10, 20, 0), "Collect", "range_windows over Collect");
    FAIL() << "no error";
  } catch (const core::Error& error) {
    EXPECT_STREQ(error.what(),
                 "set up 'range_windows over Collect': a range of 10 ns sliding by 20 ns (both must be above 0, the "
                 "slide at most the range)");
  }
}

// The script of RestoredWindowsGiveTheSameFutureOutputs, in two parts around the checkpoint.
void before_checkpoint(WindowStage& stage) {
  stage.add("a", "p", 5);
  stage.add("b", "q", 8);
  stage.add("a", "r", 17);
  stage.advance(25);       // fires [-20, 10) and [-10, 20)
  stage.add("a", "s", 1);  // partially late: into [0, 30) only
}

void after_checkpoint(WindowStage& stage) {
  stage.add("b", "t", 33);
  stage.advance(40);          // fires [0, 30)
  stage.add("a", "late", 6);  // late: dropped
  stage.advance(end_of_time);
}

TEST(RangeWindows, RestoredWindowsGiveTheSameFutureOutputs) {
  WindowStage reference(range_spec(30, 10, 5), "Collect");
  WindowStage refilled(range_spec(30, 10, 5), "Collect");
  before_checkpoint(reference);
  before_checkpoint(refilled);
  EXPECT_EQ(reference.out.take(), (Lines{"a=p@9", "b=q@9", "a=p,r@19", "b=q@19"}));
  refilled.out.take();
  refilled.checkpoint_and_restore();                        // the same operator, its table cleared and refilled
  WindowStage recovered(range_spec(30, 10, 5), "Collect");  // a new worker's operator
  recovered.watermark = reference.watermark;
  ASSERT_EQ(PyDict_Update(recovered.table.states(), reference.table.states()), 0);
  recovered.checkpoint_and_restore();
  EXPECT_EQ(reference.op->next_due(), 35);
  EXPECT_EQ(refilled.op->next_due(), 35);
  EXPECT_EQ(recovered.op->next_due(), 35);
  after_checkpoint(reference);
  after_checkpoint(refilled);
  after_checkpoint(recovered);
  Lines expected{"a=p,s,r@29", "b=q@29", "a=r@39", "b=t@39", "b=t@49", "b=t@59"};
  EXPECT_EQ(reference.out.take(), expected);
  EXPECT_EQ(refilled.out.take(), expected);
  EXPECT_EQ(recovered.out.take(), expected);
  EXPECT_EQ(recovered.op->late_events(), 1u);
}

/// A rescale moves `key`'s window state from `from`'s table to `to`'s; both operators rebuild (keys_moved()), or
/// not yet with `rebuild` false (the frame came before the round's resume).
void move_key(WindowStage& from, WindowStage& to, const char* key, bool rebuild = true) {
  py::str name(key);
  PyObject* state = PyDict_GetItemWithError(from.table.states(), name.ptr());
  ASSERT_NE(state, nullptr);
  ASSERT_EQ(PyDict_SetItem(to.table.states(), name.ptr(), state), 0);
  ASSERT_EQ(PyDict_DelItem(from.table.states(), name.ptr()), 0);
  if (rebuild) {
    from.op->keys_moved();
    to.op->keys_moved();
  }
}

Lines sorted(Lines lines) {
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Windows [k*10, k*10 + 30). The worker that gave key a away had fired two of its windows, the one that takes it
// one of its own: a's windows fire once in all (the taker leaves a out of the window it fires late), c's and b's too.
TEST(RangeWindows, AKeyFromAWorkerAheadDoesNotFireItsWindowsAgain) {
  WindowStage giver(range_spec(30, 10, 0), "Collect");
  WindowStage taker(range_spec(30, 10, 0), "Collect");
  giver.add("a", "p", 5);
  giver.add("a", "q", 15);
  giver.add("b", "s", 12);
  giver.advance(25);  // fires [-20, 10) and [-10, 20)
  EXPECT_EQ(sorted(giver.out.take()), (Lines{"a=p,q@19", "a=p@9", "b=s@19"}));
  taker.add("c", "x", 6);
  taker.advance(12);  // fires [-20, 10)
  EXPECT_EQ(taker.out.take(), (Lines{"c=x@9"}));
  move_key(giver, taker, "a");
  taker.add("a", "gone", -5);  // all its windows fired where a was: late, though not for the taker's watermark
  EXPECT_EQ(taker.op->late_events(), 1u);
  giver.advance(25);
  taker.advance(25);  // the giver's watermark, adopted
  EXPECT_EQ(giver.out.take(), Lines{});
  EXPECT_EQ(taker.out.take(), (Lines{"c=x@19"}));  // [-10, 20) fired for a on the giver
  taker.add("a", "r", 27);
  giver.advance(end_of_time);
  taker.advance(end_of_time);
  EXPECT_EQ(sorted(giver.out.take()), (Lines{"b=s@29", "b=s@39"}));
  EXPECT_EQ(sorted(taker.out.take()), (Lines{"a=p,q,r@29", "a=q,r@39", "a=r@49", "c=x@29"}));
}

// Events of a moved key can reach the taker before its round resumes (a leaver processes what its sources queued):
// the key's u, from a worker ahead, does not go back, so its fired windows stay fired.
TEST(RangeWindows, AKeyFromAWorkerAheadKeepsItsFiredWindowsWhenEventsComeBeforeTheRebuild) {
  WindowStage giver(range_spec(30, 10, 0), "Collect");
  WindowStage taker(range_spec(30, 10, 0), "Collect");
  giver.add("a", "p", 5);
  giver.add("a", "q", 15);
  giver.advance(25);
  EXPECT_EQ(sorted(giver.out.take()), (Lines{"a=p,q@19", "a=p@9"}));
  taker.add("c", "x", 6);
  taker.advance(12);
  EXPECT_EQ(taker.out.take(), (Lines{"c=x@9"}));
  move_key(giver, taker, "a", false);
  taker.add("a", "early", 27);
  taker.add("a", "gone", -5);  // late where a was
  EXPECT_EQ(taker.op->late_events(), 1u);
  giver.op->keys_moved();
  taker.op->keys_moved();
  taker.advance(25);
  EXPECT_EQ(taker.out.take(), (Lines{"c=x@19"}));
  taker.advance(end_of_time);
  EXPECT_EQ(sorted(taker.out.take()), (Lines{"a=early@49", "a=p,q,early@29", "a=q,early@39", "c=x@29"}));
}

// The giver had fired none of a's windows, the taker two of its own: the taker goes back for a's, and only a's.
TEST(RangeWindows, AKeyFromAWorkerBehindFiresTheWindowsItMissed) {
  WindowStage giver(range_spec(30, 10, 0), "Collect");
  WindowStage taker(range_spec(30, 10, 0), "Collect");
  giver.add("a", "p", 5);
  giver.advance(9);
  EXPECT_EQ(giver.out.take(), Lines{});
  taker.add("c", "x", 6);
  taker.add("c", "y", 16);
  taker.advance(25);
  EXPECT_EQ(taker.out.take(), (Lines{"c=x@9", "c=x,y@19"}));
  move_key(giver, taker, "a");
  taker.advance(25);  // its own watermark: the giver's is behind
  EXPECT_EQ(sorted(taker.out.take()), (Lines{"a=p@19", "a=p@9"}));
  taker.advance(end_of_time);
  EXPECT_EQ(sorted(taker.out.take()), (Lines{"a=p@29", "c=x,y@29", "c=y@39"}));
  EXPECT_EQ(taker.op->late_events(), 0u);
}

}  // namespace
}  // namespace roo::window::test
