// KeyGroupHandover between two PipelineRunners standing in for two workers: a grow from one worker to two moves
// the state of the key groups the second one takes, and the counts go on there; frames stay within their size;
// what cannot move is lost with a line in the closing report, never a crash.
#include "key_group_handover.hpp"

#include "pipeline_runner.hpp"
#include "runner_fixtures.hpp"
#include "state_codecs.hpp"

#include "roo/checkpoint/record_format.hpp"
#include "roo/checkpoint/snapshot.hpp"
#include "roo/state/marshal_codec.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace py = pybind11;

namespace roo::runtime {
namespace {

using test::batch_of;
using test::plan_of;

constexpr std::uint32_t key_groups = 64;

using test::lines_of;

std::vector<std::uint16_t> all_on(std::uint16_t worker) { return std::vector<std::uint16_t>(key_groups, worker); }

std::vector<std::uint16_t> round_robin(std::uint16_t workers) {
  std::vector<std::uint16_t> owners(key_groups);
  for (std::uint32_t group = 0; group < key_groups; ++group) {
    owners[group] = static_cast<std::uint16_t>(group % workers);
  }
  return owners;
}

std::uint32_t group_of(const std::string& key) {
  py::str text(key);
  return static_cast<std::uint32_t>(state::key_group_of(text.ptr(), key_groups));
}

/// The frames a hand-over sent, by the worker they went to.
struct SentFrames {
  std::map<std::size_t, std::vector<std::vector<char>>> to;
  bool lost = false;  ///< answer as for a lost worker
  KeyGroupHandover::Send send() {
    return [this](std::size_t worker, std::vector<char>&& bytes) {
      to[worker].push_back(std::move(bytes));
      return !lost;
    };
  }
};

/// A frame of state records built by hand: (table, key group, pickled key, value bytes).
std::vector<char> frame_of(const std::vector<std::tuple<std::uint32_t, std::string, std::string>>& records) {
  py::module_ pickle = py::module_::import("pickle");
  checkpoint::Snapshot frame(0, true);
  for (const auto& [table, key, value] : records) {
    std::string pickled_key = pickle.attr("dumps")(py::str(key)).cast<std::string>();
    frame.add_state(table, group_of(key), pickled_key, value);
  }
  return {frame.records().begin(), frame.records().end()};
}

std::string pickled(py::object value) { return py::module_::import("pickle").attr("dumps")(value).cast<std::string>(); }

// One worker grows to two: worker 1 takes the odd key groups, with their keys' counts.
TEST(KeyGroupHandover, AGrowMovesTheStateOfTheKeyGroupsTheNewWorkerTakes) {
  auto plan0 = plan_of("keyed_count");
  auto plan1 = plan_of("keyed_count");
  PipelineRunner w0(plan0, Routing{0, 1, key_groups}, test::pickle_object_codec());
  w0.process(batch_of({"apple", "banana", "cherry", "avocado", "blueberry", "date"}));
  (void)lines_of(w0);
  // Worker 1 joined: two workers, every key group still worker 0's.
  w0.reroute(Routing{0, 2, key_groups, all_on(0)});
  PipelineRunner w1(plan1, Routing{1, 2, key_groups, all_on(0)}, test::pickle_object_codec());
  StateCodecs codecs0(plan0);
  StateCodecs codecs1(plan1);
  KeyGroupHandover from0;
  KeyGroupHandover into1;
  SentFrames sent;
  auto next = round_robin(2);
  auto moved =
      from0.hand_over(w0.state_tables(), codecs0, 0, w0.router().owners(), next, {"initializer", "w1"}, sent.send());
  std::size_t odd = 0;
  for (const char* key : {"a", "b", "c", "d"}) {
    odd += group_of(key) % 2;
  }
  ASSERT_GT(odd, 0u);  // the test means something only when some key moves
  EXPECT_EQ(moved.keys, odd);
  EXPECT_EQ(moved.groups, key_groups / 2);
  EXPECT_EQ(moved.workers, 1u);
  ASSERT_EQ(sent.to.size(), 1u);
  ASSERT_EQ(sent.to[1].size(), 1u);
  EXPECT_EQ(moved.bytes, sent.to[1][0].size());
  EXPECT_EQ(w0.state_tables()[0].size(), 4 - odd);
  into1.take(w1.state_tables(), codecs1, "initializer", {sent.to[1][0].data(), sent.to[1][0].size()});
  EXPECT_EQ(w1.state_tables()[0].size(), odd);
  EXPECT_EQ(into1.take_intake_summary(),
            fmt::format("{} keys in {} key groups from worker 'initializer' (1 frame, {} B)", odd, odd, moved.bytes));
  EXPECT_EQ(into1.take_intake_summary(), "");
  w0.reroute(Routing{0, 2, key_groups, next});
  w1.reroute(Routing{1, 2, key_groups, next});

  w0.process(batch_of({"apple", "banana", "cherry", "date"}));
  std::uint32_t events = 0;
  auto hops = w0.take_hops(1, events);
  EXPECT_EQ(events, odd);
  if (!hops.empty()) {
    w1.process_remote({hops.data(), hops.size()}, 0);
  }
  auto lines = lines_of(w0);
  auto there = lines_of(w1);
  lines.insert(lines.end(), there.begin(), there.end());
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"apple=3", "banana=3", "cherry=2", "date=2"}));
  DeliveryReport report;
  from0.report_losses(report);
  into1.report_losses(report);
  EXPECT_TRUE(report.is_complete());
}

/// Keys k0 .. k<count - 1>, each with a state of 300 KiB.
// A state that 13 of fill a frame (14 would not fit).
constexpr std::size_t big_state_bytes = KeyGroupHandover::frame_bytes * 3 / 40;

void fill_with_big_states(state::KeyedStateTable& table, int count) {
  py::bytes big(std::string(big_state_bytes, 'x'));
  for (int i = 0; i < count; ++i) {
    py::str key("k" + std::to_string(i));
    ASSERT_EQ(PyDict_SetItem(table.states(), key.ptr(), big.ptr()), 0);
  }
}

// Windows: every frame carries the giver's window stage watermarks, and the taker hears them (it adopts them).
TEST(KeyGroupHandover, EveryFrameCarriesTheGiversWindowWatermarks) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  fill_with_big_states(runner.state_tables()[0], 20);
  StateCodecs codecs(plan);
  KeyGroupHandover handover;
  SentFrames sent;
  (void)handover.hand_over(runner.state_tables(), codecs, 0, all_on(0), all_on(1), {"a", "b"}, sent.send(),
                           {graph::EventTime{42}, graph::start_of_time});
  ASSERT_EQ(sent.to[1].size(), 2u);
  PipelineRunner taker(plan);
  KeyGroupHandover into;
  for (const auto& frame : sent.to[1]) {
    std::vector<std::pair<std::size_t, graph::EventTime>> heard;
    into.take(taker.state_tables(), codecs, "a", {frame.data(), frame.size()},
              [&](std::size_t stage, graph::EventTime mark) { heard.emplace_back(stage, mark); });
    EXPECT_EQ(heard, (std::vector<std::pair<std::size_t, graph::EventTime>>{{0, 42}, {1, graph::start_of_time}}));
  }
  EXPECT_EQ(taker.state_tables()[0].size(), 20u);
  DeliveryReport report;
  into.report_losses(report);
  EXPECT_TRUE(report.is_complete());
}

// 40 states of 300 KiB: frames of at most frame_bytes (13 states each), every key in one of them.
TEST(KeyGroupHandover, CutsTheStateIntoFramesOfAtMostFrameBytes) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  auto& table = runner.state_tables()[0];
  fill_with_big_states(table, 40);
  StateCodecs codecs(plan);
  KeyGroupHandover handover;
  SentFrames sent;
  auto moved = handover.hand_over(runner.state_tables(), codecs, 0, all_on(0), all_on(1), {"a", "b"}, sent.send());
  EXPECT_EQ(moved.keys, 40u);
  EXPECT_EQ(table.size(), 0u);
  ASSERT_EQ(sent.to[1].size(), 4u);
  std::size_t keys = 0;
  std::size_t bytes = 0;
  for (const auto& frame : sent.to[1]) {
    EXPECT_LE(frame.size(), KeyGroupHandover::frame_bytes);
    bytes += frame.size();
    checkpoint::RecordVisitor visitor;
    visitor.on_state = [&](std::uint32_t table_index, std::uint32_t, std::string_view, std::string_view value) {
      EXPECT_EQ(table_index, 0u);
      ASSERT_TRUE(state::MarshalCodec::made(value));  // a str: built-in data
      EXPECT_EQ(py::reinterpret_steal<py::object>(state::MarshalCodec::read(value)).cast<std::string>(),
                std::string(big_state_bytes, 'x'));
      ++keys;
    };
    EXPECT_EQ(checkpoint::visit_records({frame.data(), frame.size()}, visitor), frame.size() < big_state_bytes * 2 ? 1 : 13);
  }
  EXPECT_EQ(keys, 40u);
  EXPECT_EQ(moved.bytes, bytes);
}

TEST(KeyGroupHandover, StateThatCannotBeRestoredIsLostWithOneLineNotACrash) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  StateCodecs codecs(plan);
  KeyGroupHandover handover;
  std::vector<char> garbage = {'\x01', '\x00', '\x00'};
  handover.take(runner.state_tables(), codecs, "w1", {garbage.data(), garbage.size()});
  auto mixed = frame_of({{0, "apple", pickled(py::int_(1))},  // not a Count: restored as it is (pickle's business)
                         {7, "banana", pickled(py::int_(2))},
                         {0, "cherry", "not a pickle"},
                         {0, "date", "still not a pickle"}});
  handover.take(runner.state_tables(), codecs, "w1", {mixed.data(), mixed.size()});
  EXPECT_EQ(runner.state_tables()[0].size(), 1u);
  EXPECT_FALSE(PyErr_Occurred());
  EXPECT_EQ(handover.take_intake_summary(),
            fmt::format("1 keys in 1 key groups from worker 'w1' (2 frames, {} B)", garbage.size() + mixed.size()));
  DeliveryReport report;
  handover.report_losses(report);
  EXPECT_EQ(report.summary(),
            "not everything was delivered: state handed over by worker 'w1' was malformed; 2 keys (of state "
            "computation 'count' handed over by worker 'w1' that could not be restored); 1 key (of state table 7 "
            "handed over by worker 'w1' that could not be restored)");
}

TEST(KeyGroupHandover, KeptStateThatCannotBeRestoredIsLostWithOneLineOnceRestored) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  StateCodecs codecs(plan);
  KeyGroupHandover handover;
  auto mixed = frame_of({{0, "apple", pickled(py::int_(1))},
                         {7, "banana", pickled(py::int_(2))},  // no such table: lost at once
                         {0, "cherry", "not a pickle"},
                         {0, "date", "still not a pickle"}});
  handover.take(runner.state_tables(), codecs, "w1", {mixed.data(), mixed.size()}, {}, key_groups);
  auto& table = runner.state_tables()[0];
  EXPECT_TRUE(table.has_pending());
  EXPECT_EQ(table.size(), 3u);  // kept, not yet read back
  std::set<std::uint32_t> kept_groups = {group_of("apple"), group_of("cherry"), group_of("date")};
  EXPECT_EQ(handover.take_intake_summary(), fmt::format("3 keys in {} key groups from worker 'w1' (1 frame, {} B)",
                                                        kept_groups.size(), mixed.size()));
  EXPECT_TRUE(KeyGroupHandover::restore_pending(runner.state_tables(), key_groups));
  handover.report_restore_failures(runner.state_tables());
  EXPECT_EQ(table.size(), 1u);
  EXPECT_FALSE(PyErr_Occurred());
  DeliveryReport report;
  handover.report_losses(report);
  EXPECT_EQ(report.summary(),
            "not everything was delivered: 1 key (of state table 7 handed over by worker 'w1' that could not be "
            "restored); 2 keys (of state computation 'count' handed over by worker 'w1' that could not be restored)");
}

TEST(KeyGroupHandover, KeysForALostWorkerAreCountedLost) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  runner.process(batch_of({"apple", "banana"}));
  StateCodecs codecs(plan);
  KeyGroupHandover handover;
  SentFrames sent;
  sent.lost = true;
  auto moved = handover.hand_over(runner.state_tables(), codecs, 0, all_on(0), all_on(1), {"a", "w1"}, sent.send());
  EXPECT_EQ(moved.keys, 2u);
  handover.round_over();  // no second move redirected them
  DeliveryReport report;
  handover.report_losses(report);
  EXPECT_EQ(report.summary(), "not everything was delivered: 2 keys (of state for worker 'w1', which was lost)");
}

// This worker saw the receiver lost before its move went out: the frames were kept all the same, and the second
// move brings them back.
TEST(KeyGroupHandover, KeysForAWorkerLostBeforeTheMoveComeBackWithTheSecondMove) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  runner.process(batch_of({"apple", "banana"}));
  (void)lines_of(runner);
  StateCodecs codecs(plan);
  KeyGroupHandover handover;
  SentFrames sent;
  sent.lost = true;
  std::vector<std::string> names = {"a", "w1"};
  (void)handover.hand_over(runner.state_tables(), codecs, 0, all_on(0), all_on(1), names, sent.send());
  auto back = handover.redirect(runner.state_tables(), codecs, 0, all_on(0), {false, true}, names, sent.send());
  EXPECT_EQ(back.taken_back, 2u);
  handover.round_over();
  DeliveryReport report;
  handover.report_losses(report);
  EXPECT_TRUE(report.is_complete()) << report.summary();
  runner.process(batch_of({"apple"}));
  EXPECT_EQ(lines_of(runner), (std::vector<std::string>{"apple=2"}));
}

// The receiver is lost before the round ended: a second move gives its groups back (or to another worker), and what
// was handed to it comes back from the frames kept, until round_over().
TEST(KeyGroupHandover, StateHandedToAWorkerLostInTheRoundGoesToTheGroupsNextOwner) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  runner.process(batch_of({"apple", "banana", "cherry", "avocado"}));
  (void)lines_of(runner);
  StateCodecs codecs(plan);
  KeyGroupHandover handover;
  SentFrames sent;
  std::vector<std::string> names = {"initializer", "joiner", "other"};
  auto moved = handover.hand_over(runner.state_tables(), codecs, 0, all_on(0), all_on(1), names, sent.send());
  EXPECT_EQ(moved.keys, 3u);
  EXPECT_EQ(runner.state_tables()[0].size(), 0u);
  // The joiner is lost: the key groups of "a" go to worker 2, every other one back to worker 0.
  auto next = all_on(0);
  next[group_of("a")] = 2;
  auto back = handover.redirect(runner.state_tables(), codecs, 0, next, {false, true, false}, names, sent.send());
  EXPECT_EQ(back.taken_back, 2u);
  EXPECT_EQ(back.sent_on, 1u);
  EXPECT_EQ(runner.state_tables()[0].size(), 2u);
  ASSERT_EQ(sent.to[2].size(), 1u);
  runner.process(batch_of({"banana", "cherry"}));
  EXPECT_EQ(lines_of(runner), (std::vector<std::string>{"banana=2", "cherry=2"}));
  // Another loss in the same round: what went on to worker 2 comes back too; after round_over() nothing is kept.
  auto again = handover.redirect(runner.state_tables(), codecs, 0, all_on(0), {false, true, true}, names, sent.send());
  EXPECT_EQ(again.taken_back, 1u);
  runner.process(batch_of({"apricot"}));
  EXPECT_EQ(lines_of(runner), (std::vector<std::string>{"apricot=3"}));
  handover.round_over();
  auto after = handover.redirect(runner.state_tables(), codecs, 0, all_on(0), {true, true, true}, names, sent.send());
  EXPECT_EQ(after.taken_back + after.sent_on, 0u);
}

// A worker that gives up no key group (it only gains some) sends nothing.
TEST(KeyGroupHandover, SendsNothingWhenNoKeyGroupLeaves) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  runner.process(batch_of({"apple"}));
  StateCodecs codecs(plan);
  KeyGroupHandover handover;
  SentFrames sent;
  auto moved = handover.hand_over(runner.state_tables(), codecs, 1, all_on(0), round_robin(2), {"a", "b"}, sent.send());
  EXPECT_EQ(moved.groups, 0u);
  EXPECT_EQ(moved.keys, 0u);
  EXPECT_TRUE(sent.to.empty());
  EXPECT_EQ(runner.state_tables()[0].size(), 1u);
}

// A leaver's transactional sink output travels in frames of its own (SinkOutputRelay): cut at about frame_bytes,
// at least one batch each, and take() hands every batch on, in order, with its sink; without the hook it is ignored
// (counted as stray), never taken for state.
TEST(KeyGroupHandover, SinkOutputTravelsInFramesAndComesOutInOrder) {
  std::vector<std::pair<std::size_t, std::string>> output;
  for (std::size_t i = 0; i < 5; ++i) {
    output.emplace_back(i % 2, std::string(400 * 1024, static_cast<char>('a' + i)));
  }
  output.emplace_back(1, std::string(3 * KeyGroupHandover::frame_bytes, 'z'));  // larger than a frame: alone
  auto frames = KeyGroupHandover::sink_output_frames(output);
  ASSERT_EQ(frames.size(), 4u);  // 2 + 2 + 1 batches of 400 KiB, then the large one
  for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
    EXPECT_LE(frames[i].size(), KeyGroupHandover::frame_bytes);
  }
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  StateCodecs codecs(plan);
  KeyGroupHandover handover;
  std::vector<std::pair<std::size_t, std::string>> taken;
  for (const auto& frame : frames) {
    handover.take(runner.state_tables(), codecs, "w1", {frame.data(), frame.size()}, {}, key_groups,
                  [&](std::uint32_t sink, std::string_view bytes) { taken.emplace_back(sink, std::string(bytes)); });
  }
  EXPECT_EQ(taken, output);
  EXPECT_EQ(runner.state_tables()[0].size(), 0u);
  EXPECT_TRUE(KeyGroupHandover::sink_output_frames({}).empty());
  handover.take(runner.state_tables(), codecs, "w1", {frames[0].data(), frames[0].size()});  // no hook: ignored
  EXPECT_EQ(runner.state_tables()[0].size(), 0u);
}

}  // namespace
}  // namespace roo::runtime
