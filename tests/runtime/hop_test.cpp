#include "pipeline_runner.hpp"
#include "runner_fixtures.hpp"

#include "roo/graph/plan.hpp"

#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include <algorithm>
#include <sstream>
#include <string>

namespace py = pybind11;

namespace roo::runtime {
namespace {

using test::batch_of;
using test::plan_of;

using test::lines_of;

/// Two runners standing in for two workers: whatever leaves one is fed to the other.
struct TwoWorkers {
  explicit TwoWorkers(const char* app)
      : plan0(plan_of(app)),
        plan1(plan_of(app)),
        w0(plan0, Routing{0, 2, 64}, test::pickle_object_codec()),
        w1(plan1, Routing{1, 2, 64}, test::pickle_object_codec()) {}

  void exchange() {
    for (int round = 0; round < 3; ++round) {
      std::uint32_t events = 0;
      auto to1 = w0.take_hops(1, events);
      auto to0 = w1.take_hops(0, events);
      if (!to1.empty()) {
        w1.process_remote({to1.data(), to1.size()}, 0);
      }
      if (!to0.empty()) {
        w0.process_remote({to0.data(), to0.size()}, 1);
      }
    }
  }

  graph::Plan plan0, plan1;
  PipelineRunner w0, w1;
};

TEST(Hops, EachKeyIsCountedOnExactlyOneWorkerAndNothingIsLost) {
  auto single_plan = plan_of("keyed_count");
  PipelineRunner single(single_plan);
  TwoWorkers cluster("keyed_count");
  std::initializer_list<std::string> input = {"apple", "banana",  "cherry",  "avocado",     "blueberry",
                                              "date",  "apricot", "coconut", "dragonfruit", "banana2"};
  single.process(batch_of(input));
  cluster.w0.process(batch_of(input));
  cluster.exchange();
  auto expected = lines_of(single);
  auto on0 = lines_of(cluster.w0);
  auto on1 = lines_of(cluster.w1);
  EXPECT_FALSE(on0.empty());
  EXPECT_FALSE(on1.empty());
  std::vector<std::string> all(on0);
  all.insert(all.end(), on1.begin(), on1.end());
  std::sort(all.begin(), all.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected);
  // Each letter's state lives on one worker only.
  auto keys0 = cluster.w0.state_keys()[0].second;
  auto keys1 = cluster.w1.state_keys()[0].second;
  for (const auto& key : keys0) {
    EXPECT_EQ(std::count(keys1.begin(), keys1.end(), key), 0) << key;
  }
  EXPECT_EQ(keys0.size() + keys1.size(), 4u);  // a b c d
}

TEST(Hops, SourcesOnDifferentWorkersShareOneStatePerKey) {
  TwoWorkers cluster("merged");
  cluster.w0.process(batch_of({"apple", "banana"}, 0));
  cluster.w1.process(batch_of({"avocado", "blueberry"}, 1));
  cluster.exchange();
  auto on0 = lines_of(cluster.w0);
  auto on1 = lines_of(cluster.w1);
  std::vector<std::string> counts;  // "<letter><count>": each letter counted 1 then 2, wherever it lives
  for (const auto* lines : {&on0, &on1}) {
    for (const auto& line : *lines) {
      counts.push_back(line.substr(0, 1) + line.substr(line.find('=') + 1));
    }
  }
  std::sort(counts.begin(), counts.end());
  EXPECT_EQ(counts, (std::vector<std::string>{"a1", "a2", "b1", "b2"}));
}

TEST(Hops, ObjectsChangedBeforeTheKeyByTravelPickled) {
  TwoWorkers cluster("split_then_count");
  cluster.w0.process(batch_of({"apple banana cherry date", "avocado blueberry"}));
  cluster.exchange();
  auto on0 = lines_of(cluster.w0);
  auto on1 = lines_of(cluster.w1);
  std::vector<std::string> all(on0);
  all.insert(all.end(), on1.begin(), on1.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::string>{"apple=1", "avocado=2", "banana=1", "blueberry=2", "cherry=1", "date=1"}));
  EXPECT_FALSE(on1.empty());
}

TEST(Hops, AMalformedBatchIsDroppedWithALogLine) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan, Routing{0, 2, 64}, test::pickle_object_codec());
  testing::internal::CaptureStderr();
  const std::string garbage("\x00\x00\x00\x05zz", 6);
  runner.process_remote(garbage, 1);
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("dropping 5 events of a batch from worker 1: truncated entry 0"), std::string::npos) << log;
  EXPECT_TRUE(runner.outputs()[0].empty());
  DeliveryReport report;
  runner.report_losses(report);
  EXPECT_EQ(report.summary(), "not everything was delivered: 5 events (a batch from another worker could not be read)");
  EXPECT_EQ(report.exit_code(), 1);
}

TEST(DeliveryReport, AddsUpByReasonAndPutsFaultsFirst) {
  DeliveryReport report;
  EXPECT_TRUE(report.is_complete());
  EXPECT_EQ(report.exit_code(), 0);
  report.add_events(2, "for worker 'w2', which was lost");
  report.add_bytes(1, "of output for sink 'out' at 127.0.0.1:7002");
  report.add_events(0, "nothing");
  report.add_events(3, "for worker 'w2', which was lost");
  report.add_fault("worker 'w2' was lost (end of file)");
  EXPECT_EQ(report.events_lost(), 5u);
  EXPECT_EQ(report.summary(),
            "not everything was delivered: worker 'w2' was lost (end of file); 5 events (for worker 'w2', which was "
            "lost); 1 byte (of output for sink 'out' at 127.0.0.1:7002)");
  EXPECT_EQ(report.exit_code(), 1);
}

// An object entry in a batch with no object section at all: read_hops took the size of a list it never made (a
// null pointer) and the worker crashed. Found while fuzzing the data frames' layout.
TEST(Hops, AnObjectEntryWithoutObjectsIsDroppedWithALogLine) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan, Routing{0, 2, 64}, test::pickle_object_codec());
  testing::internal::CaptureStderr();
  // count 1 | flow 0, position 1, object, str key "k", event time 0 | an empty object section
  const std::string batch(
      "\x00\x00\x00\x01"
      "\x00\x00\x00\x01\x01\x00\x00\x00\x00\x01k"
      "\x00\x00\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x00\x00",
      27);
  runner.process_remote(batch, 1);
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("dropping 1 events of a batch from worker 1: fewer objects than entries"), std::string::npos)
      << log;
  EXPECT_TRUE(runner.outputs()[0].empty());
}

// Four bytes announcing 4,294,967,295 entries made read_hops reserve room for all of them (std::bad_alloc).
TEST(Hops, AnAnnouncedCountBeyondTheBatchIsDroppedWithALogLine) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan, Routing{0, 2, 64}, test::pickle_object_codec());
  testing::internal::CaptureStderr();
  runner.process_remote(std::string("\xff\xff\xff\xff\x00\x00", 6), 1);
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("dropping 4294967295 events of a batch from worker 1: truncated entry 0"), std::string::npos)
      << log;
  EXPECT_TRUE(runner.outputs()[0].empty());
}

}  // namespace
}  // namespace roo::runtime
