#include "roo/metrics/metric_catalogue.hpp"
#include "roo/metrics/metrics_registry.hpp"
#include "roo/metrics/wallaroo_report.hpp"

#include <gtest/gtest.h>

#include <numeric>

namespace roo::metrics {
namespace {

using Bins = std::array<std::uint64_t, 65>;

std::uint64_t sum(const Bins& bins) { return std::accumulate(bins.begin(), bins.end(), std::uint64_t{0}); }

TEST(ScaleBins, LargestRemaindersTakeWhatRoundingLeftTiesToTheLowerBin) {
  Bins timed{};
  timed[1] = 1;
  timed[2] = 1;
  timed[3] = 1;
  Bins scaled = scale_bins(timed, 10);  // 3.33 each: 3, 3, 3 and one left for bin 1
  EXPECT_EQ(scaled[1], 4U);
  EXPECT_EQ(scaled[2], 3U);
  EXPECT_EQ(scaled[3], 3U);
  EXPECT_EQ(sum(scaled), 10U);

  Bins skewed{};
  skewed[5] = 2;
  skewed[6] = 1;
  Bins out = scale_bins(skewed, 64);  // 42.67 and 21.33
  EXPECT_EQ(out[5], 43U);
  EXPECT_EQ(out[6], 21U);
}

TEST(ScaleBins, LargeCountsDoNotOverflowAndNoTimingPutsAllInBinZero) {
  Bins timed{};
  timed[40] = std::uint64_t{1} << 40;
  timed[41] = std::uint64_t{1} << 40;
  Bins scaled = scale_bins(timed, std::uint64_t{3} << 40);
  EXPECT_EQ(scaled[40], std::uint64_t{3} << 39);
  EXPECT_EQ(scaled[41], std::uint64_t{3} << 39);
  Bins none = scale_bins(Bins{}, 7);
  EXPECT_EQ(none[0], 7U);
  EXPECT_EQ(sum(none), 7U);
}

class WallarooReports : public ::testing::Test {
 protected:
  MetricsRegistry registry{"w1"};
  LatencyMeter& decoder = registry.latency(step_latency, {{"pipeline", "P"}, {"step", "decode"}, {"kind", "decoder"}});
  LatencyMeter& count = registry.latency(step_latency, {{"pipeline", "P"}, {"step", "count"}, {"kind", "state"}});
  LatencyMeter& encoder = registry.latency(step_latency, {{"pipeline", "P"}, {"step", "encode"}, {"kind", "encoder"}});
  LatencyMeter& idle = registry.latency(step_latency, {{"pipeline", "Q"}, {"step", "other"}, {"kind", "computation"}});
  LatencyMeter& pipeline = registry.latency(pipeline_latency, {{"pipeline", "P"}});
  LatencyMeter& worker = registry.latency(worker_latency, {{"pipeline", "P"}});
  EventCount& ingested = registry.counter(source_events, {{"source", "P"}});

  // `n` events through P, one in `timed_every` of them timed at `ns` in every meter.
  void pass(std::uint64_t n, std::uint64_t timed_every, std::uint64_t ns) {
    for (LatencyMeter* meter : {&decoder, &count, &encoder}) {
      meter->events.add(n);
      for (std::uint64_t i = 0; i < n; i += timed_every) {
        meter->latency.record(ns);
      }
    }
    pipeline.events.add(n);  // every output counted, as the runtime does
    worker.events.add(n);
    for (std::uint64_t i = 0; i < n; i += timed_every) {
      pipeline.latency.record(ns * 3);
      worker.latency.record(ns * 3);
    }
    ingested.add(n);
  }
};

TEST_F(WallarooReports, EachActiveReporterSendsBinsThatAddUpToItsEvents) {
  WorkerMetrics start = registry.snapshot();
  pass(100, 64, 1000);  // timed: events 0 and 64
  WorkerMetrics end = registry.snapshot();
  auto reports = wallaroo_reports(end, start, 2'000'000'000, 6'000'000'000);
  ASSERT_EQ(reports.size(), 6U);  // three steps, start-to-end, node-ingress-egress, ingestion; Q is idle

  const auto& first = reports[0];
  EXPECT_EQ(first.name, "decode");
  EXPECT_EQ(first.category, "computation");
  EXPECT_EQ(first.worker, "w1");
  EXPECT_EQ(first.pipeline, "P");
  EXPECT_EQ(first.id, 1);
  EXPECT_EQ(first.bins[10], 100U);  // 1000 ns: 512 <= v < 1024
  EXPECT_EQ(sum(first.bins), 100U);
  EXPECT_LE(first.min_ns, 1000U);
  EXPECT_GE(first.max_ns, 1000U);
  EXPECT_EQ(first.period_ns, 2'000'000'000U);
  EXPECT_EQ(first.period_end_ns, 6'000'000'000U);
  EXPECT_EQ(reports[1].name, "count");
  EXPECT_EQ(reports[1].id, 2);
  EXPECT_EQ(reports[2].name, "encode");
  EXPECT_EQ(reports[2].id, 3);

  EXPECT_EQ(reports[3].category, "start-to-end");
  EXPECT_EQ(reports[3].name, "P");
  EXPECT_EQ(reports[3].id, 0);
  EXPECT_EQ(sum(reports[3].bins), 100U);  // the pipeline's outputs
  EXPECT_EQ(reports[3].bins[12], 100U);   // 3000 ns
  EXPECT_EQ(reports[4].category, "node-ingress-egress");
  EXPECT_EQ(reports[4].name, "w1");
  EXPECT_EQ(reports[4].pipeline, "P");
  EXPECT_EQ(sum(reports[4].bins), 100U);  // the events that left the worker

  EXPECT_EQ(reports[5].category, "pipeline-ingestion");
  EXPECT_EQ(reports[5].name, "P");
  EXPECT_EQ(reports[5].bins[0], 100U);
  EXPECT_EQ(sum(reports[5].bins), 100U);
  EXPECT_EQ(reports[5].max_ns, 0U);
}

TEST_F(WallarooReports, APeriodCountsOnlyItsOwnEventsAndIdlePeriodsSendNothing) {
  pass(50, 64, 1000);
  WorkerMetrics middle = registry.snapshot();
  pass(30, 64, 100'000);
  WorkerMetrics end = registry.snapshot();
  auto reports = wallaroo_reports(end, middle, 2'000'000'000, 8'000'000'000);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports[0].bins[17], 30U);  // 100 us: 65536 <= v < 131072
  EXPECT_EQ(sum(reports[0].bins), 30U);
  EXPECT_GE(reports[0].min_ns, 65536U);
  EXPECT_TRUE(wallaroo_reports(end, end, 2'000'000'000, 10'000'000'000).empty());
}

TEST_F(WallarooReports, EventsWithNoneTimedTakeTheShapeSinceTheStart) {
  pass(64, 64, 1000);
  WorkerMetrics middle = registry.snapshot();
  decoder.events.add(10);  // counted but not timed
  auto reports = wallaroo_reports(registry.snapshot(), middle, 2'000'000'000, 8'000'000'000);
  ASSERT_EQ(reports.size(), 1U);
  EXPECT_EQ(reports[0].name, "decode");
  EXPECT_EQ(reports[0].bins[10], 10U);
}

}  // namespace
}  // namespace roo::metrics
