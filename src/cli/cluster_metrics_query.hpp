#pragma once

#include "external_client_flags.hpp"

#include "roo/metrics/worker_metrics.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace roo::cli {

/// Every worker's metrics as one worker's external channel gathered them (Roo's metrics query, docs/cluster.md),
/// added up: what `roo ctl metrics` and `roo top` show.
struct FetchedMetrics {
  metrics::ClusterMetrics cluster;
  /// One sentence per worker whose answer held no metrics ("worker 'w1' answered without metrics (started with
  /// --no-metrics?)"); such workers are listed as missing too.
  std::vector<std::string> notes;
};

/// Reads the answer `{"workers":{"<name>":<WorkerMetrics JSON>,...},"missing":[...]}`. Throws core::Error "read the
/// metrics answer: <what is wrong>" when it does not have that shape.
[[nodiscard]] FetchedMetrics read_metrics_answer(std::string_view payload);

/// Asks the worker at `address` (its --external) for every worker's metrics, on a connection of its own. Throws
/// core::Error with one line: "connect to 127.0.0.1:5050: connection refused", "get the metrics from
/// 127.0.0.1:5050: none within 5 s (--timeout)", ...; core::UsageError for a bad address.
[[nodiscard]] FetchedMetrics fetch_cluster_metrics(const std::string& address, const ExternalClientFlags& flags,
                                                   double timeout_seconds);

}  // namespace roo::cli
