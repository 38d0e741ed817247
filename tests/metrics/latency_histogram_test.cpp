#include "roo/metrics/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <random>

namespace roo::metrics {
namespace {

TEST(LatencyHistogram, BucketsTileTheRangeWithoutGaps) {
  EXPECT_EQ(LatencyHistogram::bucket_count, 592U);
  for (std::size_t i = 0; i + 1 < LatencyHistogram::bucket_count; ++i) {
    EXPECT_EQ(LatencyHistogram::upper_bound(i), LatencyHistogram::lower_bound(i + 1)) << i;
    EXPECT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::lower_bound(i)), i) << i;
    EXPECT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::upper_bound(i) - 1), i) << i;
  }
  EXPECT_EQ(LatencyHistogram::bucket_of(~std::uint64_t{0}), LatencyHistogram::bucket_count - 1);
}

TEST(LatencyHistogram, EveryBucketIsWithinASixteenthOfItsValues) {
  for (std::size_t i = LatencyHistogram::exact_below; i < LatencyHistogram::bucket_count; ++i) {
    auto low = LatencyHistogram::lower_bound(i);
    auto width = LatencyHistogram::upper_bound(i) - low;
    EXPECT_LE(width * 16, low) << i;
  }
}

TEST(LatencyHistogram, PercentilesOfKnownValuesAreWithinTheirBucket) {
  LatencyHistogram histogram;
  for (std::uint64_t v = 1; v <= 10000; ++v) {
    histogram.record(v * 1000);  // 1 µs .. 10 ms, evenly
  }
  HistogramSnapshot snap = histogram.snapshot();
  EXPECT_EQ(snap.count, 10000U);
  EXPECT_EQ(snap.min_ns, 1000U);
  EXPECT_EQ(snap.max_ns, 10'000'000U);
  for (double q : {0.5, 0.95, 0.99, 0.999, 0.9999}) {
    double exact = q * 10'000'000;
    EXPECT_NEAR(static_cast<double>(snap.percentile(q)), exact, exact / 32 + 1000) << q;
  }
  EXPECT_EQ(snap.percentile(1.0), 10'000'000U);
  EXPECT_EQ(snap.count_below(5'000'000), snap.count_below(5'000'000));
  EXPECT_NEAR(static_cast<double>(snap.count_below(5'000'000)), 5000, 5000.0 / 16);
}

TEST(LatencyHistogram, WallarooBinsArePowersOfTwoExactly) {
  LatencyHistogram histogram;
  std::mt19937_64 random(7);
  std::array<std::uint64_t, 65> expected{};
  for (int i = 0; i < 100000; ++i) {
    std::uint64_t v = random() >> (random() % 60 + 4);
    v = std::min<std::uint64_t>(v, (std::uint64_t{1} << 40) - 1);
    histogram.record(v);
    expected[v == 0 ? 0 : 64 - __builtin_clzll(v)] += 1;
  }
  EXPECT_EQ(histogram.snapshot().wallaroo_bins(), expected);
}

TEST(HistogramSnapshot, MergeAndSinceAreInverse) {
  LatencyHistogram histogram;
  for (std::uint64_t v = 0; v < 1000; ++v) {
    histogram.record(v * 37);
  }
  HistogramSnapshot first = histogram.snapshot();
  for (std::uint64_t v = 0; v < 500; ++v) {
    histogram.record(100'000 + v);
  }
  HistogramSnapshot second = histogram.snapshot();
  HistogramSnapshot period = second.since(first);
  EXPECT_EQ(period.count, 500U);
  EXPECT_GE(period.min_ns, 100'000U * 15 / 16);  // within the bucket of 100,000
  EXPECT_LE(period.max_ns, 100'600U);
  HistogramSnapshot again = first;
  again.merge(period);
  EXPECT_EQ(again.buckets, second.buckets);
  EXPECT_EQ(again.count, second.count);
  EXPECT_EQ(again.sum_ns, second.sum_ns);
}

TEST(HistogramSnapshot, EmptyHasNoPercentiles) {
  HistogramSnapshot empty;
  EXPECT_EQ(empty.percentile(0.99), 0U);
  EXPECT_EQ(LatencyHistogram().snapshot().count, 0U);
}

}  // namespace
}  // namespace roo::metrics
