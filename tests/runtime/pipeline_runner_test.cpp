#include "pipeline_runner.hpp"

#include "generator_source.hpp"
#include "runner_fixtures.hpp"

#include "roo/graph/plan.hpp"

#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include <string>

namespace py = pybind11;

namespace roo::runtime {
namespace {

using test::batch_of;
using test::plan_of;

std::string take(PipelineRunner& runner, std::size_t sink = 0) {
  auto out = runner.outputs()[sink].take();
  std::string text(out.values.begin(), out.values.end());
  return text;
}

TEST(PipelineRunner, KeepsOneStatePerKeyAcrossBatches) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  runner.process(batch_of({"apple", "avocado", "banana"}));
  runner.process(batch_of({"apricot", "blueberry"}));
  EXPECT_EQ(take(runner), "apple=1\navocado=2\nbanana=1\napricot=3\nblueberry=2\n");
  EXPECT_EQ(runner.events_in(), 5u);
  EXPECT_EQ(runner.outputs_written(), 5u);
}

TEST(PipelineRunner, SkipsOnlyTheEventsWhoseUserCodeRaises) {
  auto plan = plan_of("keyed_count");
  PipelineRunner runner(plan);
  testing::internal::CaptureStderr();
  runner.process(batch_of({"apple", "boom", "avocado"}));
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(take(runner), "apple=1\navocado=2\n");
  EXPECT_EQ(runner.failed_events(), 1u);
  EXPECT_NE(log.find("decoder of source 'in' raised ValueError: cannot decode boom (runner_apps.py:11); event "
                     "skipped (1 so far)"),
            std::string::npos)
      << log;
}

TEST(PipelineRunner, AppliesMultiAndFilterReturnRules) {
  auto plan = plan_of("split_filter");
  PipelineRunner runner(plan);
  testing::internal::CaptureStderr();
  runner.process(batch_of({"a skip b", "none", "x y", "tuple", "raise c", ""}));
  std::string log = testing::internal::GetCapturedStderr();
  // "none" -> nothing; "skip" items dropped; "x" filtered; "tuple" is a misuse; "raise" raises; "" splits to [""].
  EXPECT_EQ(take(runner), "a\nb\ny\nc\n\n");
  EXPECT_EQ(runner.failed_events(), 2u);
  EXPECT_NE(log.find("computation 'split' returned tuple; a _multi computation must return a list or None"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("computation 'drop x' raised KeyError: 'raise' (runner_apps.py:57)"), std::string::npos) << log;
}

TEST(PipelineRunner, WritesEveryOutputToEverySinkOfTheFlow) {
  auto plan = plan_of("two_sinks");
  PipelineRunner runner(plan);
  testing::internal::CaptureStderr();
  runner.process(batch_of({"one", "x", "bad-encode", "two"}));
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("encoder of sink 'sink 0' returned int; expected bytes; event skipped (1 so far)"),
            std::string::npos)
      << log;
  EXPECT_EQ(take(runner, 0), "one\ntwo\n");
  EXPECT_EQ(take(runner, 1), "s:one\ns:bad-encode\ns:two\n");
}

TEST(PipelineRunner, MergedSourcesShareTheirStateStage) {
  auto plan = plan_of("merged");
  ASSERT_EQ(plan.flows.size(), 2u);
  PipelineRunner runner(plan);
  runner.process(batch_of({"apple"}, 0));
  runner.process(batch_of({"avocado"}, 1));
  runner.process(batch_of({"apricot"}, 0));
  EXPECT_EQ(take(runner), "apple=1\navocado=2\napricot=3\n");
}

TEST(PipelineRunner, UnwrapsG1OutputPersistTuples) {
  auto plan = plan_of("g1_state");
  PipelineRunner runner(plan);
  testing::internal::CaptureStderr();
  runner.process(batch_of({"apple", "quince", "walnut", "avocado", "qa"}));
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("state computation 'g1 count' returned str; expected an (output, persist) tuple"),
            std::string::npos)
      << log;
  EXPECT_EQ(runner.failed_events(), 1u);
  // quince: (None, False) -> no output; walnut: not a tuple -> skipped; state still counted both.
  EXPECT_EQ(take(runner), "apple=1\navocado=2\n");
}

TEST(GeneratorSource, EmitsInitialValueThenAppliesUntilNone) {
  auto plan = plan_of("generator");
  PipelineRunner runner(plan);
  GeneratorSource generator(0, plan.sources[0]);
  EXPECT_TRUE(generator.emit(runner, 3));
  EXPECT_FALSE(generator.emit(runner, 10));
  EXPECT_TRUE(generator.finished());
  EXPECT_EQ(take(runner), "1\n2\n3\n4\n5\n");
}

}  // namespace
}  // namespace roo::runtime
