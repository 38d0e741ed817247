#include "roo/metrics/histogram_snapshot.hpp"

#include "roo/metrics/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace roo::metrics {

HistogramSnapshot LatencyHistogram::snapshot() const {
  HistogramSnapshot snap;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    std::uint64_t n = buckets_[i].load(std::memory_order_relaxed);
    if (n != 0) {
      snap.buckets.emplace_back(static_cast<std::uint16_t>(i), n);
      snap.count += n;
    }
  }
  snap.sum_ns = sum_.load(std::memory_order_relaxed);
  if (snap.count != 0) {
    snap.min_ns = min_.load(std::memory_order_relaxed);
    snap.max_ns = max_.load(std::memory_order_relaxed);
    // A read racing the writer may see a bucket before its min/max: keep them within the buckets seen.
    snap.min_ns = std::max(snap.min_ns, LatencyHistogram::lower_bound(snap.buckets.front().first));
    snap.min_ns = std::min(snap.min_ns, LatencyHistogram::upper_bound(snap.buckets.front().first) - 1);
    snap.max_ns = std::max(snap.max_ns, LatencyHistogram::lower_bound(snap.buckets.back().first));
  }
  return snap;
}

std::uint64_t HistogramSnapshot::percentile(double q) const {
  if (count == 0) {
    return 0;
  }
  auto rank = static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count)));
  rank = std::max<std::uint64_t>(rank, 1);
  std::uint64_t seen = 0;
  for (const auto& [index, n] : buckets) {
    seen += n;
    if (seen >= rank) {
      std::uint64_t low = LatencyHistogram::lower_bound(index);
      std::uint64_t high = LatencyHistogram::upper_bound(index);
      std::uint64_t middle = low + (high - low) / 2;  // exact buckets (below 32 ns): high - low == 1
      return std::clamp(middle, min_ns, std::max(min_ns, max_ns));
    }
  }
  return max_ns;
}

std::uint64_t HistogramSnapshot::count_below(std::uint64_t ns) const {
  std::uint64_t below = 0;
  for (const auto& [index, n] : buckets) {
    std::uint64_t low = LatencyHistogram::lower_bound(index);
    std::uint64_t high = LatencyHistogram::upper_bound(index);
    if (low + (high - low) / 2 >= ns) {  // exact buckets (below 32 ns): their middle is their value
      break;
    }
    below += n;
  }
  return below;
}

void HistogramSnapshot::merge(const HistogramSnapshot& other) {
  if (other.count == 0) {
    return;
  }
  std::vector<std::pair<std::uint16_t, std::uint64_t>> merged;
  merged.reserve(buckets.size() + other.buckets.size());
  auto a = buckets.begin();
  auto b = other.buckets.begin();
  while (a != buckets.end() || b != other.buckets.end()) {
    if (b == other.buckets.end() || (a != buckets.end() && a->first < b->first)) {
      merged.push_back(*a++);
    } else if (a == buckets.end() || b->first < a->first) {
      merged.push_back(*b++);
    } else {
      merged.emplace_back(a->first, a->second + b->second);
      ++a;
      ++b;
    }
  }
  buckets = std::move(merged);
  min_ns = count == 0 ? other.min_ns : std::min(min_ns, other.min_ns);
  max_ns = std::max(max_ns, other.max_ns);
  count += other.count;
  sum_ns += other.sum_ns;
}

HistogramSnapshot HistogramSnapshot::since(const HistogramSnapshot& earlier) const {
  HistogramSnapshot period;
  auto old = earlier.buckets.begin();
  for (const auto& [index, n] : buckets) {
    while (old != earlier.buckets.end() && old->first < index) {
      ++old;
    }
    std::uint64_t before = old != earlier.buckets.end() && old->first == index ? old->second : 0;
    if (n > before) {
      period.buckets.emplace_back(index, n - before);
      period.count += n - before;
    }
  }
  period.sum_ns = sum_ns >= earlier.sum_ns ? sum_ns - earlier.sum_ns : 0;
  if (period.count != 0) {
    period.min_ns = std::max(min_ns, LatencyHistogram::lower_bound(period.buckets.front().first));
    period.max_ns = std::min(max_ns, LatencyHistogram::upper_bound(period.buckets.back().first) - 1);
    period.max_ns = std::max(period.max_ns, period.min_ns);
  }
  return period;
}

std::array<std::uint64_t, 65> HistogramSnapshot::wallaroo_bins() const {
  std::array<std::uint64_t, 65> bins{};
  for (const auto& [index, n] : buckets) {
    // Every value of a bucket has the same highest bit, so the bucket's lower bound names its bin.
    bins[std::bit_width(LatencyHistogram::lower_bound(index))] += n;
  }
  return bins;
}

}  // namespace roo::metrics
