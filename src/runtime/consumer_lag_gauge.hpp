#pragma once

#include "roo/io/source.hpp"
#include "roo/metrics/metrics_registry.hpp"

#include <string>

namespace roo::runtime {

/// A replayable source's lag per partition (io::Source::consumer_lag) as a gauge family for metrics::kafka_lag,
/// labelled source, topic and partition. It reads `source` on the metrics thread: the worker registers it once the
/// source has started and replaces it (MetricsRegistry::gauge_family with the same owner, the source's name) before
/// the source is destroyed.
[[nodiscard]] metrics::MetricsRegistry::Family consumer_lag_gauge(std::string source_name, const io::Source& source);

}  // namespace roo::runtime
