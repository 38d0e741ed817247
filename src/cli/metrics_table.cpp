#include "metrics_table.hpp"

#include "roo/metrics/metric_catalogue.hpp"
#include "roo/metrics/readable_units.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace roo::cli {
namespace {

using metrics::HistogramSample;
using metrics::HistogramSnapshot;
using metrics::Labels;
using metrics::WorkerMetrics;

/// Columns padded to their widest cell: the first left-aligned (names), the rest right-aligned (numbers).
class TextTable {
 public:
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  [[nodiscard]] std::string text() const {
    std::vector<std::size_t> widths;
    for (const auto& row : rows_) {
      widths.resize(std::max(widths.size(), row.size()), 0);
      for (std::size_t i = 0; i < row.size(); ++i) {
        widths[i] = std::max(widths[i], row[i].size());
      }
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line;
      for (std::size_t i = 0; i < row.size(); ++i) {
        std::string pad(widths[i] - row[i].size(), ' ');
        line += i == 0 ? row[i] + pad : "  " + pad + row[i];
      }
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string label(const Labels& labels, std::string_view key) {
  for (const auto& [name, value] : labels) {
    if (name == key) {
      return value;
    }
  }
  return {};
}

double value_sum(const WorkerMetrics& metrics, std::string_view name, std::string_view key = {},
                 std::string_view wanted = {}, bool rate = false) {
  double sum = 0;
  for (const auto& sample : metrics.values) {
    if (sample.name == name && (key.empty() || label(sample.labels, key) == wanted)) {
      sum += rate ? sample.rate : sample.value;
    }
  }
  return sum;
}

std::uint64_t whole(double value) { return static_cast<std::uint64_t>(std::llround(std::max(value, 0.0))); }

std::vector<std::string> percentiles(const HistogramSnapshot& recent) {
  if (recent.empty()) {
    return {"-", "-", "-"};
  }
  return {metrics::readable_latency(recent.percentile(0.50)), metrics::readable_latency(recent.percentile(0.99)),
          metrics::readable_latency(recent.percentile(0.999))};
}

/// The pipelines in the order the workers registered them (their start-to-end histograms, then any other step's).
std::vector<std::string> pipelines(const WorkerMetrics& total) {
  std::vector<std::string> names;
  for (auto which : {metrics::pipeline_latency, metrics::step_latency}) {
    for (const auto& sample : total.histograms) {
      std::string name = label(sample.labels, "pipeline");
      if (sample.name == which && std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(name);
      }
    }
  }
  return names;
}

void add_pipeline(TextTable& table, const WorkerMetrics& total, const std::string& pipeline) {
  HistogramSnapshot end_to_end;
  for (const auto& sample : total.histograms) {
    if (sample.name == metrics::pipeline_latency && label(sample.labels, "pipeline") == pipeline) {
      end_to_end.merge(sample.recent);
    }
  }
  std::vector<std::string> row = {
      pipeline, "pipeline", metrics::readable_count(whole(value_sum(total, metrics::source_events, "source", pipeline))),
      metrics::readable_rate(value_sum(total, metrics::source_events, "source", pipeline, /*rate=*/true))};
  for (auto& cell : percentiles(end_to_end)) {
    row.push_back(std::move(cell));
  }
  row.push_back(metrics::readable_count(whole(value_sum(total, metrics::step_failures, "pipeline", pipeline))));
  table.add(std::move(row));
  for (const auto& sample : total.histograms) {
    if (sample.name != metrics::step_latency || label(sample.labels, "pipeline") != pipeline) {
      continue;
    }
    std::string step = label(sample.labels, "step");
    const metrics::ValueSample* failed = total.value(metrics::step_failures, {{"pipeline", pipeline}, {"step", step}});
    std::vector<std::string> step_row = {"  " + step, label(sample.labels, "kind"),
                                         metrics::readable_count(sample.events), metrics::readable_rate(sample.rate)};
    for (auto& cell : percentiles(sample.recent)) {
      step_row.push_back(std::move(cell));
    }
    step_row.push_back(failed != nullptr ? metrics::readable_count(whole(failed->value)) : "0");
    table.add(std::move(step_row));
  }
}

std::string steps_section(const WorkerMetrics& total) {
  TextTable table;
  table.add({"PIPELINE / STEP", "KIND", "EVENTS", "EVENTS/S", "P50", "P99", "P99.9", "FAILED"});
  for (const auto& pipeline : pipelines(total)) {
    add_pipeline(table, total, pipeline);
  }
  return table.text();
}

void add_worker(TextTable& table, const WorkerMetrics& worker) {
  char paused[32];
  std::snprintf(paused, sizeof paused, "%.1f s", value_sum(worker, metrics::source_paused));
  table.add({worker.worker, metrics::readable_rate(value_sum(worker, metrics::source_events, {}, {}, true)),
             metrics::readable_rate(value_sum(worker, metrics::sink_events, {}, {}, true)),
             metrics::readable_count(whole(value_sum(worker, metrics::executor_queue))),
             metrics::readable_count(whole(value_sum(worker, metrics::peer_queue))),
             metrics::readable_bytes(value_sum(worker, metrics::sink_queue_bytes)), paused});
}

std::string workers_section(const metrics::ClusterMetrics& cluster) {
  TextTable table;
  table.add({"WORKER", "IN/S", "OUT/S", "QUEUE", "PEER QUEUE", "SINK QUEUE", "PAUSED"});
  for (const auto& worker : cluster.workers) {
    add_worker(table, worker);
  }
  if (cluster.workers.size() > 1) {
    add_worker(table, cluster.total);
  }
  return table.text();
}

std::string checkpoints_line(const metrics::ClusterMetrics& cluster) {
  double completed = 0;
  double last_id = 0;
  bool any = false;
  for (const auto& worker : cluster.workers) {
    if (const auto* count = worker.value(metrics::checkpoints_completed)) {
      any = true;
      completed = std::max(completed, count->value);
    }
    if (const auto* id = worker.value(metrics::checkpoint_last_id)) {
      last_id = std::max(last_id, id->value);
    }
  }
  if (!any) {
    return "checkpoints: off\n";
  }
  std::string line = "checkpoints: " + metrics::readable_count(whole(completed)) + " completed, last id " +
                     metrics::readable_count(whole(last_id)) + ", " +
                     metrics::readable_bytes(value_sum(cluster.total, metrics::checkpoint_bytes)) + " on every worker";
  if (const HistogramSample* duration = cluster.total.histogram(metrics::checkpoint_duration, {});
      duration != nullptr && !duration->recent.empty()) {
    line += ", p99 " + metrics::readable_latency(duration->recent.percentile(0.99));
  }
  return line + "\n";
}

std::string names(const std::vector<std::string>& list) {
  std::string text;
  for (const auto& name : list) {
    text += (text.empty() ? "" : ", ") + name;
  }
  return text.empty() ? "none" : text;
}

std::string clock_time(std::int64_t ns) {
  std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &local);
  return text;
}

}  // namespace

std::string metrics_table(const FetchedMetrics& fetched) {
  const metrics::ClusterMetrics& cluster = fetched.cluster;
  std::vector<std::string> answered;
  for (const auto& worker : cluster.workers) {
    answered.push_back(worker.worker);
  }
  std::string text = "workers: " + names(answered);
  text += cluster.total.time_ns > 0 ? " (as of " + clock_time(cluster.total.time_ns) + ")\n\n" : "\n\n";
  text += steps_section(cluster.total) + "\n" + workers_section(cluster) + "\n" + checkpoints_line(cluster);
  text += "missing workers: " + names(cluster.missing) + "\n";
  for (const auto& note : fetched.notes) {
    text += "note: " + note + "\n";
  }
  return text;
}

}  // namespace roo::cli
