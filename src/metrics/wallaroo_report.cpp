#include "roo/metrics/wallaroo_report.hpp"

#include "roo/metrics/metric_catalogue.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <utility>

namespace roo::metrics {
namespace {

__extension__ using Wide = unsigned __int128;  // bins × events does not always fit in 64 bits

std::string label(const Labels& labels, std::string_view key) {
  for (const auto& [name, value] : labels) {
    if (name == key) {
      return value;
    }
  }
  return {};
}

std::uint64_t increase(std::uint64_t now, std::uint64_t before) { return now >= before ? now - before : now; }

std::uint64_t events_since(const HistogramSample& sample, const WorkerMetrics& before) {
  const HistogramSample* earlier = before.histogram(sample.name, sample.labels);
  return increase(sample.events, earlier != nullptr ? earlier->events : 0);
}

/// How many events the reporter saw in the period, exactly, which its bins must add up to: every meter counts every
/// event it sees (a step: events in; a pipeline: outputs reaching its sinks here; a worker: events leaving it).
std::uint64_t period_events(const HistogramSample& sample, const WorkerMetrics& before) {
  return events_since(sample, before);
}

}  // namespace

std::array<std::uint64_t, 65> scale_bins(const std::array<std::uint64_t, 65>& timed, std::uint64_t events) {
  std::array<std::uint64_t, 65> scaled{};
  std::uint64_t total = std::accumulate(timed.begin(), timed.end(), std::uint64_t{0});
  if (total == 0) {
    scaled[0] = events;
    return scaled;
  }
  std::array<std::uint64_t, 65> remainder{};
  std::uint64_t given = 0;
  for (std::size_t bin = 0; bin < timed.size(); ++bin) {
    Wide share = Wide{timed[bin]} * events;
    scaled[bin] = static_cast<std::uint64_t>(share / total);
    remainder[bin] = static_cast<std::uint64_t>(share % total);
    given += scaled[bin];
  }
  // Fewer than 65 left (each bin's share lost less than one); ties go to the lower bin, so the result is stable.
  std::array<std::size_t, 65> order{};
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return remainder[a] > remainder[b]; });
  for (std::size_t i = 0; given < events; ++i, ++given) {
    ++scaled[order[i]];
  }
  return scaled;
}

std::vector<WallarooReport> wallaroo_reports(const WorkerMetrics& now, const WorkerMetrics& before,
                                             std::uint64_t period_ns, std::uint64_t period_end_ns) {
  std::vector<WallarooReport> reports;
  std::map<std::string, std::uint16_t> steps_seen;  // by pipeline: the computation ids handed out
  for (const auto& sample : now.histograms) {
    const MetricInfo* info = find_metric(sample.name);
    if (info == nullptr || info->wallaroo_category.empty()) {
      continue;
    }
    std::string pipeline = label(sample.labels, "pipeline");
    bool computation = sample.name == step_latency;
    // Ids follow the order the runtime registered its steps in: the decoder, the pipeline's stages, the encoder.
    std::uint16_t id = computation ? ++steps_seen[pipeline] : 0;
    const HistogramSample* earlier = before.histogram(sample.name, sample.labels);
    HistogramSnapshot timed = earlier != nullptr ? sample.latency.since(earlier->latency) : sample.latency;
    std::uint64_t events = period_events(sample, before);
    if (events == 0) {
      continue;
    }
    // Roo times one event in 64 (docs/metrics.md), but Wallaroo's consumers take the sum of the bins as the
    // throughput; so the timed sample gives the bins' shape and the exact count their sum. When none of the
    // period's events was timed, the distribution since the worker started gives the shape.
    const HistogramSnapshot& shape = timed.empty() ? sample.latency : timed;
    WallarooReport report;
    report.name = computation ? label(sample.labels, "step")
                  : sample.name == pipeline_latency ? pipeline
                                                    : now.worker;  // Wallaroo named its worker reporters so
    report.category = std::string(info->wallaroo_category);
    report.worker = now.worker;
    report.pipeline = std::move(pipeline);
    report.id = id;
    report.bins = scale_bins(shape.wallaroo_bins(), events);
    report.min_ns = shape.min_ns;
    report.max_ns = shape.max_ns;
    report.period_ns = period_ns;
    report.period_end_ns = period_end_ns;
    reports.push_back(std::move(report));
  }
  for (const auto& value : now.values) {
    if (value.name != source_events) {
      continue;
    }
    const ValueSample* earlier = before.value(value.name, value.labels);
    auto events = increase(static_cast<std::uint64_t>(value.value),
                           earlier != nullptr ? static_cast<std::uint64_t>(earlier->value) : 0);
    if (events == 0) {
      continue;
    }
    // pipeline-ingestion counts what a source read, with latency 0; Roo's pipelines are named after their sources.
    WallarooReport report;
    report.name = label(value.labels, "source");
    report.category = "pipeline-ingestion";
    report.worker = now.worker;
    report.pipeline = report.name;
    report.bins[0] = events;
    report.period_ns = period_ns;
    report.period_end_ns = period_end_ns;
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace roo::metrics
