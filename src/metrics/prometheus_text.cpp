#include "roo/metrics/prometheus_text.hpp"

#include "roo/metrics/metric_catalogue.hpp"

#include <fmt/format.h>

#include <cmath>
#include <iterator>
#include <utility>

namespace roo::metrics {
namespace {

using Type = MetricInfo::Type;

std::string_view type_name(Type type) {
  switch (type) {
    case Type::counter:
      return "counter";
    case Type::gauge:
      return "gauge";
    case Type::histogram:
      return "histogram";
  }
  return "untyped";
}

/// HELP text escapes backslash and line feed only (the format's rule; quotes stay).
std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

/// A float as Prometheus (Go's ParseFloat) reads it: the shortest text that round-trips, and its spellings of
/// infinity and NaN.
std::string number(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  return fmt::format("{}", value);
}

std::string seconds(std::uint64_t ns) { return number(static_cast<double>(ns) / 1e9); }

/// `{worker="w",k="v",...<extra>}`; `extra` is an already formatted last label (`le="..."`) or empty.
std::string label_set(const std::string& worker, const Labels& labels, std::string_view extra = {}) {
  std::string out = "{worker=\"" + escape_label_value(worker) + "\"";
  for (const auto& [key, value] : labels) {
    out += "," + key + "=\"" + escape_label_value(value) + "\"";
  }
  if (!extra.empty()) {
    out += ",";
    out += extra;
  }
  return out + "}";
}

void write_header(std::string& out, const MetricInfo& info) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", info.name, escape_help(info.help),
                 info.name, type_name(info.type));
}

void write_values(std::string& out, const MetricInfo& info, const WorkerMetrics& metrics) {
  bool first = true;
  for (const auto& sample : metrics.values) {
    if (sample.name != info.name) {
      continue;
    }
    if (std::exchange(first, false)) {
      write_header(out, info);
    }
    fmt::format_to(std::back_inserter(out), "{}{} {}\n", info.name, label_set(metrics.worker, sample.labels),
                   number(sample.value));
  }
}

void write_histograms(std::string& out, const MetricInfo& info, const WorkerMetrics& metrics) {
  bool first = true;
  for (const auto& sample : metrics.histograms) {
    if (sample.name != info.name) {
      continue;
    }
    if (std::exchange(first, false)) {
      write_header(out, info);
    }
    const HistogramSnapshot& latency = sample.latency;
    for (std::uint64_t bound : prometheus_bucket_bounds_ns) {
      fmt::format_to(std::back_inserter(out), "{}_bucket{} {}\n", info.name,
                     label_set(metrics.worker, sample.labels, "le=\"" + seconds(bound) + "\""),
                     latency.count_below(bound));
    }
    std::string labels = label_set(metrics.worker, sample.labels);
    fmt::format_to(std::back_inserter(out), "{}_bucket{} {}\n{}_sum{} {}\n{}_count{} {}\n", info.name,
                   label_set(metrics.worker, sample.labels, "le=\"+Inf\""), latency.count, info.name, labels,
                   seconds(latency.sum_ns), info.name, labels, latency.count);
  }
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string prometheus_text(const WorkerMetrics& metrics) {
  std::string out;
  for (const auto& info : metric_catalogue()) {
    if (info.type == Type::histogram) {
      write_histograms(out, info, metrics);
    } else {
      write_values(out, info, metrics);
    }
  }
  return out;
}

}  // namespace roo::metrics
