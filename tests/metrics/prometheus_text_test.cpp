#include "roo/metrics/prometheus_text.hpp"

#include "roo/metrics/latency_histogram.hpp"
#include "roo/metrics/metric_catalogue.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace roo::metrics {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> lines_starting(const std::string& text, std::string_view prefix) {
  std::vector<std::string> found;
  for (auto& line : lines_of(text)) {
    if (line.rfind(prefix, 0) == 0) {
      found.push_back(line);
    }
  }
  return found;
}

TEST(PrometheusText, CountersAndGaugesCarryHelpTypeAndTheWorkerLabel) {
  WorkerMetrics metrics;
  metrics.worker = "worker1";
  metrics.values.push_back(ValueSample{std::string(source_events), {{"source", "in"}}, 7, 3.5});
  metrics.values.push_back(ValueSample{std::string(executor_queue), {}, 2, 0});
  EXPECT_EQ(prometheus_text(metrics),
            "# HELP roo_source_events_total Events read by a source on this worker\n"
            "# TYPE roo_source_events_total counter\n"
            "roo_source_events_total{worker=\"worker1\",source=\"in\"} 7\n"
            "# HELP roo_executor_queue_batches Source batches waiting for the executor\n"
            "# TYPE roo_executor_queue_batches gauge\n"
            "roo_executor_queue_batches{worker=\"worker1\"} 2\n");
}

TEST(PrometheusText, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  WorkerMetrics metrics;
  metrics.worker = "w\"1";
  metrics.values.push_back(ValueSample{std::string(sink_events), {{"sink", "C:\\out\n"}}, 1, 0});
  EXPECT_EQ(lines_starting(prometheus_text(metrics), "roo_sink_events_total{"),
            std::vector<std::string>{"roo_sink_events_total{worker=\"w\\\"1\",sink=\"C:\\\\out\\n\"} 1"});
}

TEST(PrometheusText, NamesOutsideTheCatalogueAndSpecialValues) {
  WorkerMetrics metrics;
  metrics.worker = "w";
  metrics.values.push_back(ValueSample{"roo_not_in_the_catalogue", {}, 1, 0});
  metrics.values.push_back(ValueSample{std::string(uptime), {}, 12.25, 0});
  metrics.values.push_back(ValueSample{std::string(kafka_lag), {{"partition", "0"}}, 1.0 / 0.0, 0});
  std::string text = prometheus_text(metrics);
  EXPECT_EQ(text.find("roo_not_in_the_catalogue"), std::string::npos);
  EXPECT_EQ(lines_starting(text, "roo_uptime_seconds{"),
            std::vector<std::string>{"roo_uptime_seconds{worker=\"w\"} 12.25"});
  EXPECT_EQ(lines_starting(text, "roo_kafka_consumer_lag_messages{"),
            std::vector<std::string>{"roo_kafka_consumer_lag_messages{worker=\"w\",partition=\"0\"} +Inf"});
}

TEST(PrometheusText, HistogramsAreCumulativeSecondsBucketsWithSumAndCount) {
  LatencyHistogram histogram;
  for (std::uint64_t ns : {500U, 700U, 3'000U, 40'000'000U}) {
    histogram.record(ns);
  }
  histogram.record(30'000'000'000U);  // 30 s: above the last bound, only in +Inf
  WorkerMetrics metrics;
  metrics.worker = "w1";
  metrics.histograms.push_back(
      HistogramSample{std::string(step_latency), {{"pipeline", "p"}, {"step", "s"}}, 320, 0, histogram.snapshot(), {}});
  std::string text = prometheus_text(metrics);
  auto buckets = lines_starting(text, "roo_step_latency_seconds_bucket{");
  ASSERT_EQ(buckets.size(), prometheus_bucket_bounds_ns.size() + 1);
  const std::string labels = "{worker=\"w1\",pipeline=\"p\",step=\"s\",le=";
  EXPECT_EQ(buckets[0], "roo_step_latency_seconds_bucket" + labels + "\"1e-06\"} 2");
  EXPECT_EQ(buckets[1], "roo_step_latency_seconds_bucket" + labels + "\"2.5e-06\"} 2");
  EXPECT_EQ(buckets[2], "roo_step_latency_seconds_bucket" + labels + "\"5e-06\"} 3");
  EXPECT_EQ(buckets[13], "roo_step_latency_seconds_bucket" + labels + "\"0.025\"} 3");
  EXPECT_EQ(buckets[14], "roo_step_latency_seconds_bucket" + labels + "\"0.05\"} 4");
  EXPECT_EQ(buckets[21], "roo_step_latency_seconds_bucket" + labels + "\"10\"} 4");
  EXPECT_EQ(buckets[22], "roo_step_latency_seconds_bucket" + labels + "\"+Inf\"} 5");
  auto sum = lines_starting(text, "roo_step_latency_seconds_sum");
  ASSERT_EQ(sum.size(), 1U);
  EXPECT_EQ(sum[0], "roo_step_latency_seconds_sum{worker=\"w1\",pipeline=\"p\",step=\"s\"} 30.0400042");
  EXPECT_EQ(lines_starting(text, "roo_step_latency_seconds_count"),
            std::vector<std::string>{"roo_step_latency_seconds_count{worker=\"w1\",pipeline=\"p\",step=\"s\"} 5"});
  EXPECT_EQ(lines_starting(text, "# TYPE roo_step_latency_seconds"),
            std::vector<std::string>{"# TYPE roo_step_latency_seconds histogram"});
}

TEST(PrometheusText, EachMetricIsOneGroupInCatalogueOrder) {
  WorkerMetrics metrics;
  metrics.worker = "w";
  metrics.values.push_back(ValueSample{std::string(sink_events), {{"sink", "a"}}, 1, 0});
  metrics.values.push_back(ValueSample{std::string(source_events), {{"source", "in"}}, 2, 0});
  metrics.values.push_back(ValueSample{std::string(sink_events), {{"sink", "b"}}, 3, 0});
  EXPECT_EQ(lines_starting(prometheus_text(metrics), "roo_"),
            (std::vector<std::string>{"roo_source_events_total{worker=\"w\",source=\"in\"} 2",
                                      "roo_sink_events_total{worker=\"w\",sink=\"a\"} 1",
                                      "roo_sink_events_total{worker=\"w\",sink=\"b\"} 3"}));
  EXPECT_EQ(lines_starting(prometheus_text(metrics), "# TYPE").size(), 2U);
}

}  // namespace
}  // namespace roo::metrics
