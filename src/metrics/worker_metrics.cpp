#include "roo/metrics/worker_metrics.hpp"

#include "roo/metrics/latency_histogram.hpp"
#include "roo/metrics/metric_catalogue.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace roo::metrics {
namespace {

using nlohmann::json;

json labels_json(const Labels& labels) {
  json out = json::object();
  for (const auto& [key, value] : labels) {
    out[key] = value;
  }
  return out;
}

Labels labels_from(const json& in) {
  Labels labels;
  for (const auto& [key, value] : in.items()) {
    labels.emplace_back(key, value.get<std::string>());
  }
  return labels;
}

template <typename Sample>
Sample* find_sample(std::vector<Sample>& samples, const std::string& name, const Labels& labels) {
  for (auto& sample : samples) {
    if (sample.name == name && sample.labels == labels) {
      return &sample;
    }
  }
  return nullptr;
}

}  // namespace

const ValueSample* WorkerMetrics::value(std::string_view name, const Labels& labels) const {
  for (const auto& sample : values) {
    if (sample.name == name && sample.labels == labels) {
      return &sample;
    }
  }
  return nullptr;
}

const HistogramSample* WorkerMetrics::histogram(std::string_view name, const Labels& labels) const {
  for (const auto& sample : histograms) {
    if (sample.name == name && sample.labels == labels) {
      return &sample;
    }
  }
  return nullptr;
}

WorkerMetrics add_up(const std::vector<WorkerMetrics>& workers) {
  WorkerMetrics total;
  total.worker = "cluster";
  for (const auto& worker : workers) {
    total.time_ns = std::max(total.time_ns, worker.time_ns);
    total.started_ns = total.started_ns == 0 ? worker.started_ns : std::min(total.started_ns, worker.started_ns);
    for (const auto& sample : worker.values) {
      if (sample.name == uptime) {
        continue;  // a sum of uptimes means nothing
      }
      if (auto* known = find_sample(total.values, sample.name, sample.labels)) {
        known->value += sample.value;
        known->rate += sample.rate;
      } else {
        total.values.push_back(sample);
      }
    }
    for (const auto& sample : worker.histograms) {
      if (auto* known = find_sample(total.histograms, sample.name, sample.labels)) {
        known->events += sample.events;
        known->rate += sample.rate;
        known->latency.merge(sample.latency);
        known->recent.merge(sample.recent);
      } else {
        total.histograms.push_back(sample);
      }
    }
  }
  return total;
}

void to_json(json& out, const HistogramSnapshot& histogram) {
  json buckets = json::array();
  for (const auto& [index, count] : histogram.buckets) {
    buckets.push_back(json::array({index, count}));
  }
  out = json{{"count", histogram.count},
             {"sum_ns", histogram.sum_ns},
             {"min_ns", histogram.min_ns},
             {"max_ns", histogram.max_ns},
             {"p50_ns", histogram.percentile(0.50)},
             {"p95_ns", histogram.percentile(0.95)},
             {"p99_ns", histogram.percentile(0.99)},
             {"p999_ns", histogram.percentile(0.999)},
             {"p9999_ns", histogram.percentile(0.9999)},
             {"buckets", std::move(buckets)}};
}

void from_json(const json& in, HistogramSnapshot& histogram) {
  histogram = {};
  for (const auto& bucket : in.at("buckets")) {
    auto index = bucket.at(0).get<std::uint16_t>();
    auto count = bucket.at(1).get<std::uint64_t>();
    if (index >= LatencyHistogram::bucket_count || count == 0 ||
        (!histogram.buckets.empty() && histogram.buckets.back().first >= index)) {
      throw std::out_of_range("histogram buckets out of order or out of range");
    }
    histogram.buckets.emplace_back(index, count);
    histogram.count += count;
  }
  histogram.sum_ns = in.at("sum_ns").get<std::uint64_t>();
  histogram.min_ns = in.at("min_ns").get<std::uint64_t>();
  histogram.max_ns = in.at("max_ns").get<std::uint64_t>();
}

void to_json(json& out, const WorkerMetrics& metrics) {
  json values = json::array();
  for (const auto& sample : metrics.values) {
    values.push_back(
        json{{"name", sample.name}, {"labels", labels_json(sample.labels)}, {"value", sample.value}, {"rate", sample.rate}});
  }
  json histograms = json::array();
  for (const auto& sample : metrics.histograms) {
    histograms.push_back(json{{"name", sample.name},
                              {"labels", labels_json(sample.labels)},
                              {"events", sample.events},
                              {"rate", sample.rate},
                              {"all", sample.latency},
                              {"recent", sample.recent}});
  }
  out = json{{"worker", metrics.worker},
             {"time_ns", metrics.time_ns},
             {"started_ns", metrics.started_ns},
             {"values", std::move(values)},
             {"histograms", std::move(histograms)}};
}

void from_json(const json& in, WorkerMetrics& metrics) {
  metrics = {};
  metrics.worker = in.at("worker").get<std::string>();
  metrics.time_ns = in.at("time_ns").get<std::int64_t>();
  metrics.started_ns = in.at("started_ns").get<std::int64_t>();
  for (const auto& value : in.at("values")) {
    metrics.values.push_back(ValueSample{value.at("name").get<std::string>(), labels_from(value.at("labels")),
                                         value.at("value").get<double>(), value.at("rate").get<double>()});
  }
  for (const auto& histogram : in.at("histograms")) {
    metrics.histograms.push_back(HistogramSample{
        histogram.at("name").get<std::string>(), labels_from(histogram.at("labels")),
        histogram.at("events").get<std::uint64_t>(), histogram.at("rate").get<double>(),
        histogram.at("all").get<HistogramSnapshot>(), histogram.at("recent").get<HistogramSnapshot>()});
  }
}

void to_json(json& out, const ClusterMetrics& metrics) {
  out = json{{"workers", metrics.workers}, {"missing", metrics.missing}, {"cluster", metrics.total}};
}

bool parse_worker_metrics(std::string_view text, WorkerMetrics& metrics, std::string& error) {
  json parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    error = "not JSON";
    return false;
  }
  try {
    metrics = parsed.get<WorkerMetrics>();
  } catch (const json::exception& e) {
    error = e.what();
    return false;
  } catch (const std::out_of_range& e) {
    error = e.what();
    return false;
  }
  return true;
}

}  // namespace roo::metrics
