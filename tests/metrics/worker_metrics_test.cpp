#include "roo/metrics/metric_catalogue.hpp"
#include "roo/metrics/metrics_history.hpp"
#include "roo/metrics/metrics_registry.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <set>

namespace roo::metrics {
namespace {

TEST(MetricsRegistry, TheSameNameAndLabelsGiveTheSameMeter) {
  MetricsRegistry registry("w1");
  LatencyMeter& a = registry.latency(step_latency, {{"pipeline", "p"}, {"step", "double"}});
  LatencyMeter& b = registry.latency(step_latency, {{"pipeline", "p"}, {"step", "double"}});
  LatencyMeter& c = registry.latency(step_latency, {{"pipeline", "p"}, {"step", "half"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  EXPECT_THROW(registry.counter("roo_no_such_metric", {}), std::logic_error);
}

TEST(MetricsRegistry, SnapshotHasEveryMeterAndTheEventsCounter) {
  MetricsRegistry registry("w1");
  LatencyMeter& step = registry.latency(step_latency, {{"pipeline", "p"}, {"step", "double"}});
  step.events.add(10);
  step.latency.record(2000);
  registry.counter(source_events, {{"source", "in"}}).add(7);
  registry.gauge(executor_queue, {}, [] { return 3.0; });
  WorkerMetrics snap = registry.snapshot();
  EXPECT_EQ(snap.worker, "w1");
  const HistogramSample* histogram = snap.histogram(step_latency, {{"pipeline", "p"}, {"step", "double"}});
  ASSERT_NE(histogram, nullptr);
  EXPECT_EQ(histogram->events, 10U);
  EXPECT_EQ(histogram->latency.count, 1U);
  ASSERT_NE(snap.value(step_events, {{"pipeline", "p"}, {"step", "double"}}), nullptr);
  EXPECT_EQ(snap.value(step_events, {{"pipeline", "p"}, {"step", "double"}})->value, 10);
  EXPECT_EQ(snap.value(source_events, {{"source", "in"}})->value, 7);
  EXPECT_EQ(snap.value(executor_queue)->value, 3);
}

TEST(WorkerMetrics, JsonRoundTrips) {
  MetricsRegistry registry("w1");
  LatencyMeter& step = registry.latency(step_latency, {{"pipeline", "p"}, {"step", "double"}});
  for (int i = 0; i < 100; ++i) {
    step.latency.record(1000 + i * 10);
  }
  step.events.add(100);
  WorkerMetrics snap = registry.snapshot();
  std::string text = nlohmann::json(snap).dump();
  WorkerMetrics back;
  std::string error;
  ASSERT_TRUE(parse_worker_metrics(text, back, error)) << error;
  EXPECT_EQ(back.worker, "w1");
  ASSERT_EQ(back.histograms.size(), 1U);
  EXPECT_EQ(back.histograms[0].latency.buckets, snap.histograms[0].latency.buckets);
  EXPECT_EQ(back.histograms[0].events, 100U);
  EXPECT_EQ(back.values.size(), snap.values.size());
}

TEST(WorkerMetrics, MalformedJsonIsRefusedWithAReason) {
  WorkerMetrics back;
  std::string error;
  EXPECT_FALSE(parse_worker_metrics("{", back, error));
  EXPECT_EQ(error, "not JSON");
  EXPECT_FALSE(parse_worker_metrics(R"({"worker":"w"})", back, error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(parse_worker_metrics(
      R"({"worker":"w","time_ns":1,"started_ns":1,"values":[],"histograms":[{"name":"x","labels":{},"events":1,"rate":0,)"
      R"("all":{"count":1,"sum_ns":1,"min_ns":1,"max_ns":1,"buckets":[[9999,1]]},"recent":{"count":0,"sum_ns":0,"min_ns":0,"max_ns":0,"buckets":[]}}]})",
      back, error));
}

TEST(WorkerMetrics, AddUpSumsCountersAndMergesHistograms) {
  MetricsRegistry a("a");
  MetricsRegistry b("b");
  a.counter(source_events, {{"source", "in"}}).add(3);
  b.counter(source_events, {{"source", "in"}}).add(4);
  a.latency(pipeline_latency, {{"pipeline", "p"}}).latency.record(100);
  b.latency(pipeline_latency, {{"pipeline", "p"}}).latency.record(200);
  WorkerMetrics total = add_up({a.snapshot(), b.snapshot()});
  EXPECT_EQ(total.worker, "cluster");
  EXPECT_EQ(total.value(source_events, {{"source", "in"}})->value, 7);
  EXPECT_EQ(total.histogram(pipeline_latency, {{"pipeline", "p"}})->latency.count, 2U);
}

TEST(MetricsHistory, RatesAndTheRecentWindow) {
  MetricsRegistry registry("w");
  EventCount& in = registry.counter(source_events, {});
  LatencyMeter& step = registry.latency(step_latency, {});
  MetricsHistory history(std::chrono::seconds(10));
  step.latency.record(1000);
  WorkerMetrics first = registry.snapshot();
  first.time_ns = 0;
  (void)history.add(first);
  in.add(500);
  step.latency.record(5000);
  WorkerMetrics second = registry.snapshot();
  second.time_ns = 5'000'000'000;
  WorkerMetrics seen = history.add(second);
  EXPECT_DOUBLE_EQ(seen.value(source_events)->rate, 100);
  EXPECT_EQ(seen.histogram(step_latency, {})->recent.count, 2U);  // younger than the span: everything
  step.latency.record(9000);
  WorkerMetrics third = registry.snapshot();
  third.time_ns = 12'000'000'000;
  seen = history.add(third);
  EXPECT_EQ(seen.histogram(step_latency, {})->recent.count, 2U);  // since the snapshot at 0 s, which had one
}

TEST(MetricCatalogue, EveryNameIsPrometheusStyleAndUnique) {
  std::set<std::string_view> names;
  for (const auto& info : metric_catalogue()) {
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_EQ(info.name.rfind("roo_", 0), 0U) << info.name;
    if (info.type == MetricInfo::Type::counter) {
      EXPECT_TRUE(info.name.ends_with("_total")) << info.name;
    }
    if (info.type == MetricInfo::Type::histogram) {
      EXPECT_TRUE(info.name.ends_with("_seconds")) << info.name;
    }
    EXPECT_FALSE(info.help.empty()) << info.name;
  }
}

}  // namespace
}  // namespace roo::metrics
