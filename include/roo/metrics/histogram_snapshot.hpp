#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace roo::metrics {

/// A LatencyHistogram's counts at one moment, as plain values: only the buckets that hold something (what travels
/// between workers and to the dashboard). Buckets are LatencyHistogram's: index -> [lower_bound, upper_bound) ns.
struct HistogramSnapshot {
  std::vector<std::pair<std::uint16_t, std::uint64_t>> buckets;  ///< (bucket index, count), by index, counts > 0
  std::uint64_t count = 0;   ///< the sum of the buckets' counts
  std::uint64_t sum_ns = 0;
  std::uint64_t min_ns = 0;  ///< 0 when empty
  std::uint64_t max_ns = 0;

  [[nodiscard]] bool empty() const { return count == 0; }
  /// The value below which a fraction `q` (0..1) of the latencies lie, to within its bucket: the middle of the
  /// bucket holding the ceil(q * count)-th value, kept within [min_ns, max_ns]. 0 when empty.
  [[nodiscard]] std::uint64_t percentile(double q) const;
  /// How many latencies are below `ns` (a bucket straddling `ns` counts as below when its middle is).
  [[nodiscard]] std::uint64_t count_below(std::uint64_t ns) const;
  /// Adds `other`'s counts (another worker's, or another step's).
  void merge(const HistogramSnapshot& other);
  /// What was added since `earlier`, a snapshot of the same histogram (a period's counts). min and max are those
  /// of the buckets left, kept within this snapshot's min and max.
  [[nodiscard]] HistogramSnapshot since(const HistogramSnapshot& earlier) const;
  /// Wallaroo's 65 power-of-two bins (bin 0: 0 ns; bin i: 2^(i-1) <= ns < 2^i), exactly.
  [[nodiscard]] std::array<std::uint64_t, 65> wallaroo_bins() const;
};

}  // namespace roo::metrics
