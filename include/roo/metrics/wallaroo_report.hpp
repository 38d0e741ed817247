#pragma once

#include "roo/metrics/worker_metrics.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace roo::metrics {

/// One reporter's figures for one period of Wallaroo's metrics stream (spec §5): what one PAYLOAD carries.
struct WallarooReport {
  std::string name;      ///< computation: the step; start-to-end: the pipeline; node-ingress-egress: the worker
  std::string category;  ///< "computation", "start-to-end", "node-ingress-egress" or "pipeline-ingestion"
  std::string worker;
  std::string pipeline;
  std::uint16_t id = 0;  ///< computation: the step's place in its pipeline, from 1; 0 for the other categories
  std::array<std::uint64_t, 65> bins{};  ///< bin 0: 0 ns; bin i: 2^(i-1) <= ns < 2^i; they sum to the period's events
  std::uint64_t min_ns = 0;
  std::uint64_t max_ns = 0;
  std::uint64_t period_ns = 0;
  std::uint64_t period_end_ns = 0;  ///< wall clock, a multiple of period_ns

  friend bool operator==(const WallarooReport&, const WallarooReport&) = default;
};

/// The reports of the period that ends at `period_end_ns`: `now` and `before` are the snapshots taken at its end and
/// at its start (`before` empty for the first period: everything since the worker started). One report per
/// reporter that saw events in the period; idle reporters send nothing, as in Wallaroo.
[[nodiscard]] std::vector<WallarooReport> wallaroo_reports(const WorkerMetrics& now, const WorkerMetrics& before,
                                                           std::uint64_t period_ns, std::uint64_t period_end_ns);

/// `timed` (the bins of the events that were timed) scaled so that they add up to `events` exactly, each bin in
/// proportion, the rounding left over given to the bins with the largest remainders (Hamilton's method). All
/// zero: every event in bin 0 (no latency is known).
[[nodiscard]] std::array<std::uint64_t, 65> scale_bins(const std::array<std::uint64_t, 65>& timed,
                                                       std::uint64_t events);

}  // namespace roo::metrics
