#pragma once

#include "cluster_metrics_query.hpp"

#include <string>

namespace roo::cli {

/// The cluster's metrics as text for people, what `roo ctl metrics` prints and `roo top` redraws: per pipeline and
/// step the events, their rate, the p50/p99/p99.9 latency of the last five minutes and the failures; per worker the
/// rates in and out, the queues and the time its sources spent paused; the checkpoints; the missing workers.
[[nodiscard]] std::string metrics_table(const FetchedMetrics& fetched);

}  // namespace roo::cli
