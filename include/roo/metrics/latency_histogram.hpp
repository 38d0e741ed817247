#pragma once

#include "roo/metrics/histogram_snapshot.hpp"

#include <array>
#include <atomic>
#include <cstdint>

namespace roo::metrics {

/// Latencies in nanoseconds, in log-linear buckets (HdrHistogram's idea: 16 buckets per power of two, so a value
/// is known to within 1/16 of itself; values below 32 ns exactly; everything from 2^40 ns, about 18 minutes, in
/// the last bucket). Fine enough for p99.99, and each of Wallaroo's 65 power-of-two bins is a whole number of
/// buckets (HistogramSnapshot::wallaroo_bins).
///
/// One writer, any number of readers: the writer (the Python executor) adds with relaxed loads and stores, no
/// locked instruction and no lock; a reader (the metrics thread) copies the buckets at any moment and sees each
/// one either before or after an add. About 4.7 KB.
class LatencyHistogram {
 public:
  static constexpr unsigned sub_bucket_bits = 4;
  static constexpr std::uint64_t exact_below = std::uint64_t{1} << (sub_bucket_bits + 1);  ///< 32
  static constexpr unsigned top_power = 40;  ///< values >= 2^40 ns share the last bucket
  static constexpr std::size_t bucket_count =
      exact_below + (top_power - sub_bucket_bits - 1) * (std::size_t{1} << sub_bucket_bits);  ///< 592

  /// The bucket holding `ns`.
  [[nodiscard]] static constexpr std::size_t bucket_of(std::uint64_t ns) {
    if (ns < exact_below) {
      return static_cast<std::size_t>(ns);
    }
    if (ns >= (std::uint64_t{1} << top_power)) {
      return bucket_count - 1;
    }
    unsigned power = 63U - static_cast<unsigned>(__builtin_clzll(ns));  // >= sub_bucket_bits + 1
    unsigned shift = power - sub_bucket_bits;
    std::size_t sub = static_cast<std::size_t>((ns >> shift) & ((1U << sub_bucket_bits) - 1));
    return exact_below + (power - sub_bucket_bits - 1) * (std::size_t{1} << sub_bucket_bits) + sub;
  }
  /// The smallest value bucket `index` holds.
  [[nodiscard]] static constexpr std::uint64_t lower_bound(std::size_t index) {
    if (index < exact_below) {
      return index;
    }
    std::size_t past = index - exact_below;
    unsigned power = static_cast<unsigned>(past >> sub_bucket_bits) + sub_bucket_bits + 1;
    std::uint64_t sub = past & ((std::size_t{1} << sub_bucket_bits) - 1);
    return ((std::uint64_t{1} << sub_bucket_bits) + sub) << (power - sub_bucket_bits);
  }
  /// One past the largest value bucket `index` holds (the last bucket: 2^40, though it holds more).
  [[nodiscard]] static constexpr std::uint64_t upper_bound(std::size_t index) {
    return index + 1 < bucket_count ? lower_bound(index + 1) : (std::uint64_t{1} << top_power);
  }

  /// The writer: one latency.
  void record(std::uint64_t ns) {
    bump(buckets_[bucket_of(ns)], 1);
    bump(sum_, ns);
    if (ns < min_.load(std::memory_order_relaxed)) {
      min_.store(ns, std::memory_order_relaxed);
    }
    if (ns > max_.load(std::memory_order_relaxed)) {
      max_.store(ns, std::memory_order_relaxed);
    }
  }

  /// Any thread: the counts so far.
  [[nodiscard]] HistogramSnapshot snapshot() const;

 private:
  static void bump(std::atomic<std::uint64_t>& cell, std::uint64_t by) {
    cell.store(cell.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  std::array<std::atomic<std::uint64_t>, bucket_count> buckets_{};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> min_{~std::uint64_t{0}};
  std::atomic<std::uint64_t> max_{0};
};

/// A count with one writer and any number of readers (relaxed load and store: no locked instruction).
class EventCount {
 public:
  void add(std::uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  /// The writer: the value, from a count the writer keeps elsewhere.
  void set(std::uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

}  // namespace roo::metrics
