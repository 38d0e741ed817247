#pragma once

#include "roo/metrics/worker_metrics.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace roo::metrics {

/// The `le` bounds of every exported histogram, in ns: 1, 2.5 and 5 times each power of ten from 1 µs to 10 s
/// (then +Inf). Fixed, so that every worker's and every scrape's buckets line up for Prometheus' sum by (le); the
/// log-linear histograms behind them are far finer (the dashboard and the JSON API show their own percentiles).
inline constexpr std::array<std::uint64_t, 22> prometheus_bucket_bounds_ns = {
    1'000,       2'500,       5'000,        10'000,        25'000,        50'000,       100'000,      250'000,
    500'000,     1'000'000,   2'500'000,    5'000'000,     10'000'000,    25'000'000,   50'000'000,   100'000'000,
    250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

/// One worker's metrics in Prometheus' text exposition format 0.0.4 (what GET /metrics answers): the metrics of
/// metric_catalogue() that have samples, in its order, each with its HELP and TYPE lines, and every sample with a
/// `worker` label first. Histograms are in seconds, with the buckets above, `_sum` and `_count` (`_count` is the
/// number of timed events; the exact number of events is the step's roo_events_total). Pure; any thread.
[[nodiscard]] std::string prometheus_text(const WorkerMetrics& metrics);

/// `value` as a label value between double quotes: backslash, double quote and line feed escaped.
[[nodiscard]] std::string escape_label_value(std::string_view value);

}  // namespace roo::metrics
