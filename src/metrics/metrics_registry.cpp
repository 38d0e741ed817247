#include "roo/metrics/metrics_registry.hpp"

#include "roo/core/clock.hpp"
#include "roo/metrics/metric_catalogue.hpp"

#include <chrono>
#include <stdexcept>

namespace roo::metrics {
namespace {

template <typename List>
auto* find(List& list, std::string_view name, const Labels& labels) {
  for (auto& entry : list) {
    if (entry.name == name && entry.labels == labels) {
      return &entry;
    }
  }
  return static_cast<typename List::value_type*>(nullptr);
}

void check_known(std::string_view name) {
  if (find_metric(name) == nullptr) {
    throw std::logic_error("metric " + std::string(name) + " is not in the metric catalogue");
  }
}

}  // namespace

MetricsRegistry::MetricsRegistry(std::string worker) : worker_(std::move(worker)), started_ns_(core::wall_clock_ns()) {}

LatencyMeter& MetricsRegistry::latency(std::string_view name, Labels labels) {
  check_known(name);
  std::lock_guard lock(mutex_);
  if (auto* known = find(latencies_, name, labels)) {
    return known->meter;
  }
  auto& made = latencies_.emplace_back();
  made.name = name;
  made.labels = std::move(labels);
  return made.meter;
}

EventCount& MetricsRegistry::counter(std::string_view name, Labels labels) {
  check_known(name);
  std::lock_guard lock(mutex_);
  if (auto* known = find(counters_, name, labels)) {
    return known->meter;
  }
  auto& made = counters_.emplace_back();
  made.name = name;
  made.labels = std::move(labels);
  return made.meter;
}

void MetricsRegistry::gauge(std::string_view name, Labels labels, std::function<double()> read) {
  check_known(name);
  std::lock_guard lock(mutex_);
  if (auto* known = find(gauges_, name, labels)) {
    known->read = std::move(read);
    return;
  }
  gauges_.push_back(Gauge{std::string(name), std::move(labels), std::move(read)});
}

void MetricsRegistry::gauge_family(std::string_view name, std::string owner, Family read) {
  check_known(name);
  std::lock_guard lock(mutex_);
  for (auto& family : families_) {
    if (family.name == name && family.owner == owner) {
      family.read = std::move(read);
      return;
    }
  }
  families_.push_back(GaugeFamily{std::string(name), std::move(owner), std::move(read)});
}

void MetricsRegistry::clear_gauges() {
  std::lock_guard lock(mutex_);
  gauges_.clear();
  families_.clear();
}

void MetricsRegistry::rename(std::string worker) {
  std::lock_guard lock(mutex_);
  worker_ = std::move(worker);
}

WorkerMetrics MetricsRegistry::snapshot() const {
  WorkerMetrics out;
  std::lock_guard lock(mutex_);
  out.worker = worker_;
  out.time_ns = core::wall_clock_ns();
  out.started_ns = started_ns_;
  for (const auto& entry : latencies_) {
    HistogramSample sample{entry.name, entry.labels, entry.meter.events.value(), 0, entry.meter.latency.snapshot(), {}};
    const MetricInfo* info = find_metric(entry.name);
    if (!info->events_name.empty()) {
      out.values.push_back(ValueSample{std::string(info->events_name), entry.labels,
                                       static_cast<double>(sample.events), 0});
    }
    out.histograms.push_back(std::move(sample));
  }
  for (const auto& entry : counters_) {
    out.values.push_back(ValueSample{entry.name, entry.labels, static_cast<double>(entry.meter.value()), 0});
  }
  for (const auto& gauge : gauges_) {
    out.values.push_back(ValueSample{gauge.name, gauge.labels, gauge.read(), 0});
  }
  for (const auto& family : families_) {
    if (!family.read) {
      continue;
    }
    for (auto& [labels, value] : family.read()) {
      out.values.push_back(ValueSample{family.name, std::move(labels), value, 0});
    }
  }
  out.values.push_back(ValueSample{std::string(uptime), {},
                                   static_cast<double>(out.time_ns - out.started_ns) / 1e9, 0});
  return out;
}

}  // namespace roo::metrics
