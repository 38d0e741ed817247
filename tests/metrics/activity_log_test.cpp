#include "roo/metrics/activity_log.hpp"
#include "roo/metrics/latency_histogram.hpp"
#include "roo/metrics/metric_catalogue.hpp"
#include "roo/metrics/readable_units.hpp"

#include <gtest/gtest.h>

namespace roo::metrics {
namespace {

constexpr std::int64_t ten_seconds_ns = 10'000'000'000;

/// A worker's snapshot with the figures the activity line reads.
struct Figures {
  double in = 0;
  double out = 0;
  std::uint64_t processed = 0;
  double queue = 0;
  double peer_queue = 0;
  double sink_bytes = 0;
  double paused = 0;
  double failed = 0;
  double lost = 0;
  double turn = 0.002;
  std::vector<std::uint64_t> pipeline_latencies_ns = {};
};

WorkerMetrics snapshot_at(std::int64_t time_ns, const Figures& f) {
  WorkerMetrics metrics;
  metrics.worker = "w1";
  metrics.time_ns = time_ns;
  metrics.values = {{std::string(source_events), {{"source", "Votes"}}, f.in, 0},
                    {std::string(sink_events), {{"sink", "out"}}, f.out, 0},
                    {std::string(step_failures), {{"pipeline", "Votes"}, {"step", "count"}}, f.failed, 0},
                    {std::string(lost_events), {}, f.lost, 0},
                    {std::string(executor_queue), {}, f.queue, 0},
                    {std::string(peer_queue), {}, f.peer_queue, 0},
                    {std::string(sink_queue_bytes), {{"sink", "out"}}, f.sink_bytes, 0},
                    {std::string(source_paused), {}, f.paused, 0},
                    {std::string(executor_turn), {}, f.turn, 0}};
  LatencyHistogram latencies;
  for (auto ns : f.pipeline_latencies_ns) {
    latencies.record(ns);
  }
  HistogramSample step{std::string(step_latency), {{"pipeline", "Votes"}, {"step", "count"}}, f.processed, 0, {}, {}};
  HistogramSample pipeline{std::string(pipeline_latency), {{"pipeline", "Votes"}}, 0, 0, latencies.snapshot(), {}};
  metrics.histograms = {step, pipeline};
  return metrics;
}

TEST(ActivityLine, SaysRatesLatencyBacklogAndFailures) {
  Figures before{.in = 100, .out = 50, .processed = 100, .sink_bytes = 9000, .failed = 1};
  Figures now = before;
  now.in = 100 + 12'034'550;
  now.out = 50 + 12'030'010;
  now.processed = 100 + 12'034'550;
  now.sink_bytes = 12'345;
  now.failed = 3;
  now.lost = 1;
  now.pipeline_latencies_ns.assign(100, 1'200'000);
  Activity activity = activity_between(snapshot_at(0, before), snapshot_at(ten_seconds_ns, now));
  EXPECT_FALSE(activity.idle());
  EXPECT_FALSE(activity.stalled());
  EXPECT_EQ(activity_line(activity),
            "metrics: 1,203,455 events/s in, 1,203,001 out; p99 1.2 ms; backlog 0 batches, 0 from peers, sink 12 KB, "
            "paused 0.0 s; 2 failed, 1 lost");
}

TEST(ActivityLine, ATrickleIsNotZero) {
  Figures now{.in = 3, .out = 3, .processed = 3, .queue = 1, .peer_queue = 2};
  Activity activity = activity_between(snapshot_at(0, {}), snapshot_at(ten_seconds_ns, now));
  EXPECT_EQ(activity_line(activity),
            "metrics: 0.3 events/s in, 0.3 out; p99 -; backlog 1 batch, 2 from peers, sink 0 B, paused 0.0 s; "
            "0 failed, 0 lost");
}

TEST(ActivityLine, IdleWhenNothingMovedEvenWithBytesKeptBySinks) {
  // A TCP sink keeps written bytes for a resend while idle: unchanged sink bytes are no activity.
  Figures same{.in = 500, .out = 500, .processed = 500, .sink_bytes = 9000, .failed = 2};
  Activity activity = activity_between(snapshot_at(0, same), snapshot_at(ten_seconds_ns, same));
  EXPECT_TRUE(activity.idle());
  EXPECT_FALSE(activity.stalled());
}

TEST(ActivityLine, NotIdleWhenOnlyFailuresCame) {
  Figures before{.failed = 2};
  Figures now{.failed = 5};
  Activity activity = activity_between(snapshot_at(0, before), snapshot_at(ten_seconds_ns, now));
  EXPECT_FALSE(activity.idle());
  EXPECT_EQ(activity.failed, 3U);
}

TEST(ActivityLine, StalledWhenBatchesWaitAndNothingIsProcessed) {
  Figures before{.in = 10, .out = 10, .processed = 10, .queue = 3, .paused = 1};
  Figures now = before;
  now.paused = 5;
  Activity activity = activity_between(snapshot_at(0, before), snapshot_at(ten_seconds_ns, now));
  EXPECT_FALSE(activity.idle());
  EXPECT_TRUE(activity.stalled());
  EXPECT_EQ(activity_line(activity),
            "metrics: stalled: nothing processed in 10.0 s with batches waiting; 0 events/s in, 0 out; p99 -; "
            "backlog 3 batches, 0 from peers, sink 0 B, paused 4.0 s; 0 failed, 0 lost");
}

TEST(ActivityLine, NotStalledWhenTheQueueJustFilled) {
  Figures before{.processed = 10};
  Figures now{.processed = 10, .queue = 1};
  Activity activity = activity_between(snapshot_at(0, before), snapshot_at(ten_seconds_ns, now));
  EXPECT_FALSE(activity.stalled());
  EXPECT_FALSE(activity.idle());
}

TEST(ActivityLine, StalledWhenTheExecutorIsStuckInOneTurn) {
  // A step that does not return also stops the sources (they run on the executor): no queue grows.
  Figures before{.in = 4, .out = 3, .processed = 4, .turn = 21};
  Figures now = before;
  now.turn = 31;
  Activity activity = activity_between(snapshot_at(0, before), snapshot_at(ten_seconds_ns, now));
  EXPECT_TRUE(activity.stalled());
  EXPECT_FALSE(activity.idle());
  EXPECT_EQ(activity_line(activity),
            "metrics: stalled: nothing processed in 10.0 s (the executor has been in one step or wait for 31.0 s); "
            "0 events/s in, 0 out; p99 -; backlog 0 batches, 0 from peers, sink 0 B, paused 0.0 s; 0 failed, 0 lost");
}

TEST(ActivityLine, ASlowStepThatStillProcessesIsNotStalled) {
  Figures before{.processed = 4, .turn = 0};
  Figures now{.processed = 5, .turn = 12};
  EXPECT_FALSE(activity_between(snapshot_at(0, before), snapshot_at(ten_seconds_ns, now)).stalled());
}

TEST(ReadableUnits, CountsBytesAndLatencies) {
  EXPECT_EQ(readable_count(0), "0");
  EXPECT_EQ(readable_count(999), "999");
  EXPECT_EQ(readable_count(1000), "1,000");
  EXPECT_EQ(readable_count(1'234'567), "1,234,567");
  EXPECT_EQ(readable_rate(0), "0");
  EXPECT_EQ(readable_rate(2.5), "2.5");
  EXPECT_EQ(readable_rate(1234.4), "1,234");
  EXPECT_EQ(readable_bytes(0), "0 B");
  EXPECT_EQ(readable_bytes(999), "999 B");
  EXPECT_EQ(readable_bytes(12'345), "12 KB");
  EXPECT_EQ(readable_bytes(3'400'000), "3.4 MB");
  EXPECT_EQ(readable_latency(850), "850 ns");
  EXPECT_EQ(readable_latency(12'000), "12 us");
  EXPECT_EQ(readable_latency(1'200'000), "1.2 ms");
  EXPECT_EQ(readable_latency(3'400'000'000), "3.4 s");
}

}  // namespace
}  // namespace roo::metrics
